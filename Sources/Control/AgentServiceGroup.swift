import Logging
import ServiceLifecycle
import UnixSignals

/// The agent's run loop: its services in one swift-service-lifecycle `ServiceGroup`.
///
/// SIGTERM and SIGINT shut it down gracefully. The group tells the services in reverse order, each after the one
/// before it has returned: ``StoppingService`` (STOPPING=1, notes the step in flight), the `--timeout` deadline,
/// the control socket (no new connections; requests in flight finish), the udev follower (no new events; the one
/// in flight finishes its plan or the executor's rollback), the SIGHUP reloads, the periodic resync, and last
/// systemd's watchdog and status pings, which go on while the others finish.
public enum AgentServiceGroup {
    /// The signals that stop the agent gracefully (tests pass none, and trigger the shutdown themselves).
    public static let stopSignals: [UnixSignal] = [.sigterm, .sigint]

    public static func make(runtime: AgentRuntime, follower: EventFollowerService, reload: any Service,
                            control: ControlSocketService?, resyncInterval: Duration?, deadline: Duration?,
                            statusPeriod: Duration = .seconds(10), signals: [UnixSignal] = stopSignals) -> ServiceGroup {
        typealias Configuration = ServiceGroupConfiguration.ServiceConfiguration
        var services: [Configuration] = [
            Configuration(service: SystemdNotifyService(runtime: runtime, statusPeriod: statusPeriod), serviceName: "systemd-notify"),
        ]
        if let resyncInterval {
            services.append(Configuration(service: ResyncService(runtime: runtime, interval: resyncInterval), serviceName: "resync"))
        }
        services.append(Configuration(service: reload, serviceName: "policy-reload"))
        // The event stream ending (--count, or the monitor failing) stops the agent as a signal would.
        services.append(Configuration(service: follower, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "udev-follower"))
        if let control {
            services.append(Configuration(service: control, serviceName: "control-socket"))
        }
        if let deadline {
            services.append(Configuration(service: DeadlineService(runtime: runtime, duration: deadline),
                                          successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "deadline"))
        }
        services.append(Configuration(service: StoppingService(runtime: runtime), serviceName: "stopping"))
        return ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: signals,
                                                                     logger: runtime.logger))
    }
}
