/// Link targets as sysfs writes them: relative (`../../../devices/pci0000:00/0000:00:1f.2`).
public enum LinkTarget {
    /// The path, relative to the root, of `target` read from a link in `directory` (itself relative to the root):
    /// `../../../devices/x` found in `bus/pci/devices` is `devices/x`. An absolute target is taken from the root.
    public static func resolve(_ target: String, from directory: String) -> String {
        var components = target.hasPrefix("/") ? [] : directory.split(separator: "/").map(String.init)
        for part in target.split(separator: "/") {
            switch part {
            case "..": if !components.isEmpty { components.removeLast() }
            case ".": continue
            default: components.append(String(part))
            }
        }
        return components.joined(separator: "/")
    }
}
