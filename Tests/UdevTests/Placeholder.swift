import Testing

@Suite struct UdevPlaceholderTests {
    @Test func moduleBuilds() {}
}
