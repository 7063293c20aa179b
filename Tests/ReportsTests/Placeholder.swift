import Testing

@Suite struct ReportsPlaceholderTests {
    @Test func moduleBuilds() {}
}
