import Sysfs
import Topology

/// Keeps a ``TopologyGraph`` current from a stream of ``MonitorEvent``s: what `watch` and the agent do with
/// each event before deciding anything.
///
/// A device event is applied incrementally (``TopologyGraph/apply(_:reading:)`` re-reads the device and its PF
/// under `root`); an overflow replaces the graph by a full scan (``TopologyGraph/rescan(root:)``).
public struct GraphFollower: Sendable {
    /// What one event did to the graph.
    public enum Step: Sendable, Hashable {
        /// A device event and the change it made (possibly none).
        case device(DeviceEvent, GraphChange)
        /// Events were lost; the graph was rebuilt by a rescan, with this difference from before.
        case resync(GraphChange)

        public var change: GraphChange {
            switch self {
            case .device(_, let change), .resync(let change): change
            }
        }
    }

    public let root: SysfsRoot
    public private(set) var graph: TopologyGraph

    /// Scans `root` (`bus/pci/devices` and every device's attributes) for the starting graph.
    public init(root: SysfsRoot) throws(SysfsError) {
        self.root = root
        self.graph = try TopologyGraph.scan(root: root)
    }

    /// Starts from a graph read earlier from `root`.
    public init(root: SysfsRoot, graph: TopologyGraph) {
        self.root = root
        self.graph = graph
    }

    /// Applies one event. Throws only when a rescan cannot list `bus/pci/devices`.
    public mutating func follow(_ event: MonitorEvent) throws(SysfsError) -> Step {
        switch event {
        case .device(let deviceEvent):
            return .device(deviceEvent, graph.apply(deviceEvent, reading: root))
        case .overflow:
            return .resync(try graph.rescan(root: root))
        }
    }
}
