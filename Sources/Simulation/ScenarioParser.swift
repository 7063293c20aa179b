import Policy
import Sysfs
import TOMLKit

/// Reads a scenario file (TOML):
///
/// ```toml
/// name = "rebind by hand"
/// description = "what it shows"
/// [[step]]
/// say = "narration"
/// [[step]]
/// kernel = "rebind"            # rebind, load-module, create-vfs, remove, rescan, overflow, link-down
/// device = "0000:03:01.0"
/// driver = "e1000"
/// [[step]]
/// command = "assign"           # assign, release, status, journal
/// devices = ["0000:03:01.0"]
/// owner = "vm1"
/// ```
///
/// Errors name file, line and column (found with the policy's ``TOMLLocator``) and what was expected.
public enum ScenarioParser {
    public static let kernelHappenings = ["rebind", "load-module", "create-vfs", "remove", "rescan", "overflow", "link-down"]
    public static let commands = ["assign", "release", "status", "journal"]

    public static func parse(text: String, file: String) throws(ScenarioError) -> Scenario {
        if let problem = TOMLPreflight.check(text) {
            throw ScenarioError(file: file, position: problem.position, path: "", message: "not valid TOML: \(problem.message)")
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ScenarioError(file: file, position: SourcePosition(line: error.source.begin.line, column: error.source.begin.column),
                                path: "", message: "not valid TOML: \(error.description)")
        } catch {
            throw ScenarioError(file: file, position: nil, path: "", message: "not valid TOML: \(error)")
        }
        var reader = Reader(file: file, locator: TOMLLocator(text: text))
        let scenario = reader.scenario(root)
        if let first = reader.errors.first { throw first }
        return scenario
    }

    struct Reader {
        let file: String
        let locator: TOMLLocator
        var errors: [ScenarioError] = []

        mutating func fail(_ path: String, _ message: String, atKey: Bool = false) {
            let position = atKey ? locator.keyPosition(of: path) : locator.position(of: path)
            errors.append(ScenarioError(file: file, position: position, path: path, message: message))
        }

        mutating func scenario(_ root: TOMLTable) -> Scenario {
            for key in root.keys where !["name", "description", "step"].contains(key) {
                fail(key, "unknown key (expected name, description or [[step]])", atKey: true)
            }
            var scenario = Scenario(name: root["name"]?.string ?? file, description: root["description"]?.string ?? "", steps: [])
            guard let steps = root["step"] else {
                fail("", "no [[step]] entries")
                return scenario
            }
            guard let array = steps.array else {
                fail("step", "expected [[step]] tables")
                return scenario
            }
            for (index, element) in array.enumerated() {
                let path = "step[\(index)]"
                guard let table = element.table else {
                    fail(path, "expected a table")
                    continue
                }
                if let step = step(table, at: path) { scenario.steps.append(step) }
            }
            return scenario
        }

        mutating func step(_ table: TOMLTable, at path: String) -> Scenario.Step? {
            let allowed: Set<String> = ["say", "kernel", "command", "device", "devices", "driver", "owner", "pf", "count", "module", "interface"]
            for key in table.keys where !allowed.contains(key) {
                fail("\(path).\(key)", "unknown key (expected \(allowed.sorted().joined(separator: ", ")))", atKey: true)
            }
            if let text = table["say"]?.string { return .say(text) }
            if let kind = table["kernel"]?.string {
                switch kind {
                case "rebind":
                    guard let device = address(table, "device", at: path), let driver = string(table, "driver", at: path) else { return nil }
                    return .kernel(.rebind(device, driver: driver))
                case "load-module":
                    return string(table, "module", at: path).map { .kernel(.loadModule($0)) }
                case "create-vfs":
                    guard let pf = address(table, "pf", at: path) else { return nil }
                    guard let count = table["count"]?.int, count >= 0 else {
                        fail("\(path).count", "expected a number of VFs (0 or more)")
                        return nil
                    }
                    return .kernel(.createVFs(pf: pf, count: count))
                case "remove":
                    return address(table, "device", at: path).map { .kernel(.remove($0)) }
                case "rescan": return .kernel(.rescan)
                case "overflow": return .kernel(.overflow)
                case "link-down":
                    return string(table, "interface", at: path).map { .kernel(.linkDown($0)) }
                default:
                    fail("\(path).kernel", "unknown happening '\(kind)' (expected \(ScenarioParser.kernelHappenings.joined(separator: ", ")))")
                    return nil
                }
            }
            if let command = table["command"]?.string {
                switch command {
                case "assign":
                    guard let devices = addresses(table, at: path), let owner = string(table, "owner", at: path) else { return nil }
                    if let problem = OwnerName.problem(owner) {   // the one owner rule, as the CLI and the policy
                        fail("\(path).owner", "invalid owner \"\(escapedForTerminal(owner))\": \(problem)")
                        return nil
                    }
                    return .assign(devices: devices, owner: owner)
                case "release":
                    let owner = table["owner"]?.string
                    if let owner, let problem = OwnerName.problem(owner) {
                        fail("\(path).owner", "invalid owner \"\(escapedForTerminal(owner))\": \(problem)")
                        return nil
                    }
                    let devices = table["devices"] == nil ? [] : (addresses(table, at: path) ?? [])
                    if owner == nil && devices.isEmpty {
                        fail(path, "release needs an owner or devices")
                        return nil
                    }
                    return .release(owner: owner, devices: devices)
                case "status": return .status
                case "journal":
                    return .journal(device: table["device"] == nil ? nil : address(table, "device", at: path))
                default:
                    fail("\(path).command", "unknown command '\(command)' (expected \(ScenarioParser.commands.joined(separator: ", ")))")
                    return nil
                }
            }
            fail(path, "a step needs one of say, kernel or command")
            return nil
        }

        mutating func string(_ table: TOMLTable, _ key: String, at path: String) -> String? {
            guard let text = table[key]?.string, !text.isEmpty else {
                fail(table[key] == nil ? path : "\(path).\(key)", "expected \(key) = \"...\"")
                return nil
            }
            return text
        }

        mutating func address(_ table: TOMLTable, _ key: String, at path: String) -> PCIAddress? {
            guard let text = string(table, key, at: path) else { return nil }
            do {
                return try PCIAddress.parse(text)
            } catch {
                fail("\(path).\(key)", error.description)
                return nil
            }
        }

        mutating func addresses(_ table: TOMLTable, at path: String) -> [PCIAddress]? {
            if table["device"] != nil { return address(table, "device", at: path).map { [$0] } }
            guard let array = table["devices"]?.array, !array.isEmpty else {
                fail(path, "expected devices = [\"0000:03:01.0\", ...]")
                return nil
            }
            var result: [PCIAddress] = []
            for (index, element) in array.enumerated() {
                guard let text = element.string, let parsed = try? PCIAddress.parse(text) else {
                    fail("\(path).devices[\(index)]", "expected a PCI address such as \"0000:03:01.0\"")
                    return nil
                }
                result.append(parsed)
            }
            return result
        }
    }
}

/// A scenario file that cannot be played, and where.
public struct ScenarioError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var position: SourcePosition?
    public var path: String
    public var message: String

    public var description: String {
        "\(file)\(position.map { ":\($0)" } ?? ""): \(path.isEmpty ? "" : path + ": ")\(message)"
    }
}
