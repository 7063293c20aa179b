import ServiceLifecycle

/// Runs `body` every `period` (the first time one period from now) until graceful shutdown or cancellation; a
/// `body` already running is let finish.
func repeatUntilShutdown(every period: Duration, _ body: @Sendable () async -> Void) async {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
        } catch {
            return
        }
        await body()
    }
}
