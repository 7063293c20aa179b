import Testing

@Suite struct JournalPlaceholderTests {
    @Test func moduleBuilds() {}
}
