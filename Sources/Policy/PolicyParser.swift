#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sysfs
import Topology
import TOMLKit

extension Policy {
    /// The policy file the agent reads when `--policy` is not given.
    public static let defaultPath = "/etc/vfio-warden/policy.toml"

    /// Parses and validates a policy document. `file` is the name errors carry (`policy.toml`).
    ///
    /// TOMLKit parses the TOML; ``TOMLLocator`` finds where each value is so errors can name line and column.
    /// Every problem is collected: the error lists all of them in file order.
    public static func parse(text: String, file: String) throws(PolicyErrors) -> Policy {
        if let problem = TOMLPreflight.check(text) {
            throw PolicyErrors([PolicyError(kind: .syntax, file: file, position: problem.position, path: "",
                                            message: "not valid TOML: \(problem.message)")])
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let position = SourcePosition(line: error.source.begin.line, column: error.source.begin.column)
            throw PolicyErrors([PolicyError(kind: .syntax, file: file, position: position, path: "",
                                            message: "not valid TOML: \(error.description)")])
        } catch {
            throw PolicyErrors([PolicyError(kind: .syntax, file: file, position: nil, path: "",
                                            message: "not valid TOML: \(error)")])
        }
        var parser = PolicyParser(file: file, locator: TOMLLocator(text: text))
        let policy = parser.policy(from: table)
        parser.reportControlCharacters()
        guard parser.errors.isEmpty else {
            throw PolicyErrors(parser.errors.sorted {
                ($0.position ?? SourcePosition(line: 0, column: 0), $0.path) < ($1.position ?? SourcePosition(line: 0, column: 0), $1.path)
            })
        }
        return policy
    }

    /// Reads and parses the file at `path`; errors carry `path` as their file name.
    public static func load(path: String) throws(PolicyErrors) -> Policy {
        try loadWithSource(path: path).policy
    }

    /// ``load(path:)``, with the bytes that were parsed (what `policy_loaded` hashes: never a second read of the
    /// file, which may have changed in between).
    public static func loadWithSource(path: String) throws(PolicyErrors) -> (policy: Policy, bytes: [UInt8]) {
        let directory: String
        let name: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
            name = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            name = path
        }
        let bytes: [UInt8]
        do {
            bytes = try SysfsRoot(directory).readBytes(name)
        } catch {
            throw PolicyErrors([PolicyError(kind: .unreadable, file: path, position: nil, path: "",
                                            message: "cannot read the policy file: \(error.errno.description)")])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PolicyErrors([PolicyError(kind: .unreadable, file: path, position: nil, path: "",
                                            message: "the policy file is not UTF-8 text")])
        }
        return (try parse(text: text, file: path), bytes)
    }
}

/// Walks the TOMLKit table and builds the ``Policy``, collecting every error with its position.
struct PolicyParser {
    let file: String
    let locator: TOMLLocator
    var errors: [PolicyError] = []

    static let groupMessage = "IOMMU group numbers change across reboots and kernel versions, so a policy cannot name a group: "
        + "name a member device by address (with ids or serial to check it), and its whole group follows it"

    init(file: String, locator: TOMLLocator) {
        self.file = file
        self.locator = locator
    }

    mutating func fail(_ kind: PolicyError.Kind, _ path: String, _ message: String, atKey: Bool = false) {
        let position = atKey ? locator.keyPosition(of: path) : locator.position(of: path)
        errors.append(PolicyError(kind: kind, file: file, position: position, path: path, message: message))
    }

    /// Reports keys of `table` outside `allowed` (and `group` keys with their own explanation).
    mutating func checkKeys(_ table: TOMLTable, at path: String, allowed: [String]) {
        for key in table.keys where !allowed.contains(key) {
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if key == "group" || key == "groups" || key == "iommu_group" {
                fail(.groupKey, keyPath, Self.groupMessage, atKey: true)
            } else {
                let place = path.isEmpty ? "at the top level" : "in \(path)"
                let expected = allowed.map { path.isEmpty ? "[\($0)]" : $0 }.joined(separator: ", ")
                let suggestion = allowed.filter { Self.distance($0, key) <= 2 }.min { Self.distance($0, key) < Self.distance($1, key) }
                let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
                fail(.unknownKey, keyPath, "unknown key '\(escapedForTerminal(key))' \(place)\(hint): expected one of \(expected)", atKey: true)
            }
        }
    }

    /// Levenshtein distance, for "did you mean" hints on misspelt keys.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }

    mutating func policy(from root: TOMLTable) -> Policy {
        var policy = Policy(file: file)
        checkKeys(root, at: "", allowed: ["manage", "protect", "assign", "sriov", "host_use"])
        if let manage = root["manage"] {
            if let table = manage.table {
                policy.manage = rules(in: table, at: "manage", allowed: ["devices", "ids", "classes", "vfs_of"])
            } else {
                fail(.wrongType, "manage", "expected a table [manage], found \(typeName(manage))")
            }
        }
        if let protect = root["protect"] {
            if let table = protect.table {
                policy.protect = rules(in: table, at: "protect", allowed: ["devices", "ids", "classes"])
            } else {
                fail(.wrongType, "protect", "expected a table [protect], found \(typeName(protect))")
            }
        }
        if let hostUse = root["host_use"] {
            if let table = hostUse.table {
                policy.hostUse = hostUseOptions(table)
            } else {
                fail(.wrongType, "host_use", "expected a table [host_use], found \(typeName(hostUse))")
            }
        }
        policy.assignments = arrayOfTables(root, "assign").compactMap { assignment($0.table, at: $0.path) }
        policy.sriov = arrayOfTables(root, "sriov").compactMap { sriovRule($0.table, at: $0.path) }
        checkConsistency(policy)
        return policy
    }

    /// `[[name]]` entries with their paths; an error when `name` is something else.
    mutating func arrayOfTables(_ root: TOMLTable, _ name: String) -> [(table: TOMLTable, path: String)] {
        guard let value = root[name] else { return [] }
        guard let array = value.array else {
            fail(.wrongType, name, "expected an array of tables [[\(name)]], found \(typeName(value))")
            return []
        }
        var result: [(TOMLTable, String)] = []
        for (index, element) in array.enumerated() {
            let path = "\(name)[\(index)]"
            if let table = element.table { result.append((table, path)) } else {
                fail(.wrongType, path, "expected a table [[\(name)]], found \(typeName(element))")
            }
        }
        return result
    }

    // MARK: [manage] and [protect]

    mutating func rules(in table: TOMLTable, at section: String, allowed: [String]) -> [PolicyRule] {
        checkKeys(table, at: section, allowed: allowed)
        var rules: [PolicyRule] = []
        for key in allowed {
            guard let value = table[key] else { continue }
            let listPath = "\(section).\(key)"
            guard let array = value.array else {
                fail(.wrongType, listPath, "expected an array, found \(typeName(value))")
                continue
            }
            for (index, element) in array.enumerated() {
                let path = "\(listPath)[\(index)]"
                let selector: DeviceSelector?
                switch key {
                case "devices": selector = deviceReference(element, at: path).map(DeviceSelector.device)
                case "ids": selector = deviceIDs(element, at: path).map(DeviceSelector.ids)
                case "classes": selector = classPrefix(element, at: path).map(DeviceSelector.classPrefix)
                default: selector = address(element, at: path).map(DeviceSelector.vfsOf)
                }
                if let selector {
                    rules.append(PolicyRule(path: path, position: locator.position(of: path), selector: selector))
                }
            }
        }
        return rules
    }

    // MARK: [[assign]] and [[sriov]]

    mutating func assignment(_ table: TOMLTable, at path: String) -> StaticAssignment? {
        checkKeys(table, at: path, allowed: ["device", "ids", "owner"])
        var selector: DeviceSelector?
        switch (table["device"], table["ids"]) {
        case (let device?, nil): selector = deviceReference(device, at: "\(path).device").map(DeviceSelector.device)
        case (nil, let ids?): selector = deviceIDs(ids, at: "\(path).ids").map(DeviceSelector.ids)
        case (_?, _?):
            fail(.conflict, "\(path).ids", "give either device or ids, not both")
        case (nil, nil):
            fail(.missingKey, path, "missing key 'device' (a PCI address) or 'ids' (vendor:device)")
        }
        var owner: String?
        if let value = table["owner"] {
            owner = ownerName(value, at: "\(path).owner")
        } else {
            fail(.missingKey, path, "missing key 'owner' (the VM or pod the group is assigned to)")
        }
        guard let selector, let owner else { return nil }
        return StaticAssignment(path: path, position: locator.position(of: path), selector: selector, owner: owner)
    }

    mutating func sriovRule(_ table: TOMLTable, at path: String) -> SRIOVRule? {
        checkKeys(table, at: path, allowed: ["pf", "numvfs", "vf_driver", "manage_pf"])
        var pf: DeviceReference?
        if let value = table["pf"] { pf = deviceReference(value, at: "\(path).pf") } else {
            fail(.missingKey, path, "missing key 'pf' (the physical function's PCI address)")
        }
        var numVFs: Int?
        if let value = table["numvfs"] {
            if let count = value.int {
                if (0...65535).contains(count) { numVFs = count } else {
                    fail(.invalidValue, "\(path).numvfs", "\(count) VFs: expected a count from 0 to 65535 (sriov_numvfs)")
                }
            } else {
                fail(.wrongType, "\(path).numvfs", "expected an integer (the VF count), found \(typeName(value))")
            }
        } else {
            fail(.missingKey, path, "missing key 'numvfs' (how many VFs to create)")
        }
        var driver = "vfio-pci"
        if let value = table["vf_driver"] {
            if let name = nonEmptyString(value, at: "\(path).vf_driver", what: "a driver name such as vfio-pci") {
                if name.contains("/") || name.contains(where: \.isWhitespace) {
                    fail(.invalidValue, "\(path).vf_driver", "invalid driver name '\(escapedForTerminal(name))': expected a name such as vfio-pci")
                } else {
                    driver = name
                }
            }
        }
        var managesPF = false
        if let value = table["manage_pf"] {
            if let flag = value.bool { managesPF = flag } else {
                fail(.wrongType, "\(path).manage_pf", "expected true or false (whether this rule may write its PF although [manage] does not list it), found \(typeName(value))")
            }
        }
        guard let pf, let numVFs else { return nil }
        return SRIOVRule(path: path, position: locator.position(of: path), pf: pf, numVFs: numVFs, vfDriver: driver,
                         managesPF: managesPF)
    }

    /// Contradictions between sections: assigning a protected device, one device for two owners, two rules for one PF.
    mutating func checkConsistency(_ policy: Policy) {
        for assignment in policy.assignments {
            for rule in policy.protect {
                let key: String
                switch (assignment.selector, rule.selector) {
                case (.device(let reference), .device(let protected)) where protected.address == reference.address:
                    key = "device"
                case (.device(let reference), .ids(let protected)) where reference.ids == protected:
                    key = "device"
                case (.ids(let ids), .ids(let protected)) where ids == protected:
                    key = "ids"
                default:
                    continue
                }
                fail(.conflict, "\(assignment.path).\(key)",
                     "\(assignment.selector) is protected by \(rule): a protected device cannot be assigned")
            }
        }
        var owners: [PCIAddress: StaticAssignment] = [:]
        for assignment in policy.assignments {
            guard case .device(let reference) = assignment.selector else { continue }
            if let earlier = owners[reference.address] {
                if earlier.owner != assignment.owner {
                    fail(.conflict, "\(assignment.path).device",
                         "\(reference.address) is already assigned to \(earlier.owner) by \(earlier.path)")
                }
            } else {
                owners[reference.address] = assignment
            }
        }
        var pfs: [PCIAddress: SRIOVRule] = [:]
        for rule in policy.sriov {
            if let earlier = pfs[rule.pf.address] {
                fail(.duplicate, "\(rule.path).pf", "\(rule.pf.address) already has an SR-IOV rule in \(earlier.path)")
            } else {
                pfs[rule.pf.address] = rule
            }
        }
    }

    // MARK: Values

    /// `"0000:03:02.0"` or `{ address = "0000:03:02.0", ids = "1af4:1000", serial = "..." }`.
    mutating func deviceReference(_ value: TOMLValueConvertible, at path: String) -> DeviceReference? {
        if value.type == .string { return address(value, at: path).map { DeviceReference(address: $0) } }
        guard let table = value.table else {
            fail(.wrongType, path, "expected a PCI address string or a table { address = ..., ids = ..., serial = ... }, found \(typeName(value))")
            return nil
        }
        checkKeys(table, at: path, allowed: ["address", "ids", "serial"])
        guard let addressValue = table["address"] else {
            fail(.missingKey, path, "missing key 'address' (the device's PCI address)")
            return nil
        }
        let parsedAddress = address(addressValue, at: "\(path).address")
        var ids: DeviceIDs?
        var serial: String?
        var ok = parsedAddress != nil
        if let idsValue = table["ids"] {
            ids = deviceIDs(idsValue, at: "\(path).ids")
            ok = ok && ids != nil
        }
        if let serialValue = table["serial"] {
            serial = nonEmptyString(serialValue, at: "\(path).serial", what: "a PCI serial number such as 00-11-22-ff-fe-33-44-55")
            if let text = serial {
                if !PCISerialNumber.isWellFormed(text) {
                    fail(.invalidValue, "\(path).serial",
                         "invalid serial number '\(escapedForTerminal(text))': expected 8 bytes of two hex digits each, separated by '-' (or ':'), as lspci prints it: 00-11-22-ff-fe-33-44-55")
                    serial = nil
                }
            }
            ok = ok && serial != nil
        }
        guard ok, let parsedAddress else { return nil }
        return DeviceReference(address: parsedAddress, ids: ids, serial: serial)
    }

    /// `[host_use]`: `netdev_elsewhere` and `only_keyboard`, each `"in_use"` (the default) or `"free"`.
    mutating func hostUseOptions(_ table: TOMLTable) -> HostUseOptions {
        checkKeys(table, at: "host_use", allowed: ["netdev_elsewhere", "only_keyboard"])
        var options = HostUseOptions()
        if let value = table["netdev_elsewhere"], let inUse = inUseOrFree(value, at: "host_use.netdev_elsewhere") {
            options.netdevElsewhereInUse = inUse
        }
        if let value = table["only_keyboard"], let inUse = inUseOrFree(value, at: "host_use.only_keyboard") {
            options.onlyKeyboardInUse = inUse
        }
        return options
    }

    mutating func inUseOrFree(_ value: TOMLValueConvertible, at path: String) -> Bool? {
        switch value.string {
        case "in_use": return true
        case "free": return false
        case .some(let text):
            fail(.invalidValue, path, "invalid value '\(text)': expected \"in_use\" (the default) or \"free\"")
            return nil
        case nil:
            fail(.wrongType, path, "expected \"in_use\" or \"free\", found \(typeName(value))")
            return nil
        }
    }

    mutating func address(_ value: TOMLValueConvertible, at path: String) -> PCIAddress? {
        guard let text = value.string else {
            fail(.wrongType, path, "expected a PCI address string such as \"0000:03:01.0\", found \(typeName(value))")
            return nil
        }
        let address: PCIAddress
        do {
            address = try PCIAddress.parse(text)
        } catch {
            fail(.invalidAddress, path, "invalid PCI address '\(escapedForTerminal(text))': expected [domain:]bus:slot.function (\(error.problem))")
            return nil
        }
        // Written in full, as sysfs names it: a short field (`3:1.0`) is more likely a typo than shorthand here.
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        let slotFunction = fields.last?.split(separator: ".", omittingEmptySubsequences: false) ?? []
        let domainOK = fields.count == 2 || (fields.count == 3 && (4...8).contains(fields[0].utf8.count))
        guard domainOK, fields[fields.count - 2].utf8.count == 2, slotFunction.count == 2, slotFunction[0].utf8.count == 2 else {
            fail(.invalidAddress, path, "invalid PCI address '\(escapedForTerminal(text))': write it in full as sysfs names it, "
                 + "DDDD:BB:SS.F or BB:SS.F with two hex digits for bus and slot (here \(address))")
            return nil
        }
        return address
    }

    mutating func deviceIDs(_ value: TOMLValueConvertible, at path: String) -> DeviceIDs? {
        guard let text = value.string else {
            fail(.wrongType, path, "expected a \"vendor:device\" string such as \"8086:100e\", found \(typeName(value))")
            return nil
        }
        guard let ids = DeviceIDs(text) else {
            fail(.invalidIDs, path, "invalid ids '\(escapedForTerminal(text))': expected vendor:device (or vendor:device:subvendor:subdevice), exactly four hex digits each, such as 8086:100e")
            return nil
        }
        return ids
    }

    mutating func classPrefix(_ value: TOMLValueConvertible, at path: String) -> ClassPrefix? {
        guard let text = value.string else {
            fail(.wrongType, path, "expected a class code string such as \"0200\", found \(typeName(value))")
            return nil
        }
        guard let prefix = ClassPrefix(text) else {
            fail(.invalidClass, path, "invalid class '\(escapedForTerminal(text))': expected 2, 4 or 6 hex digits of a class code, such as 02, 0200 or 020000")
            return nil
        }
        return prefix
    }

    /// `owner = "..."`: ``OwnerName``'s rule, the same as the CLI's and the control socket's.
    mutating func ownerName(_ value: TOMLValueConvertible, at path: String) -> String? {
        guard let text = value.string else {
            fail(.wrongType, path, "expected a string (the owner's name, a VM or pod), found \(typeName(value))")
            return nil
        }
        do {
            return try OwnerName(text).value
        } catch {
            fail(.invalidValue, path, error.description)
            return nil
        }
    }

    /// Every control character the locator found in a string value: an error at the character itself.
    mutating func reportControlCharacters() {
        for found in locator.controlCharacters {
            errors.append(PolicyError(
                kind: .controlCharacter, file: file, position: found.position, path: found.path,
                message: "the string holds \(escapedForTerminal(String(found.scalar))) (\(unicodeName(found.scalar))): "
                    + "control characters are not allowed in addresses, ids, classes, serials, owners or driver names"))
        }
    }

    mutating func nonEmptyString(_ value: TOMLValueConvertible, at path: String, what: String) -> String? {
        guard let text = value.string else {
            fail(.wrongType, path, "expected a string (\(what)), found \(typeName(value))")
            return nil
        }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            fail(.invalidValue, path, "empty string: expected \(what)")
            return nil
        }
        return text
    }

    func typeName(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}
