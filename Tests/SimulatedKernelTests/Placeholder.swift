import Testing

@Suite struct SimulatedKernelPlaceholderTests {
    @Test func moduleBuilds() {}
}
