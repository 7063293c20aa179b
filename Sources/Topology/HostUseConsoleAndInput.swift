import Sysfs

extension HostUseCollector {
    /// The kernel's consoles on a PCI device (a PCI UART, a USB serial adapter on a PCI controller): the names of
    /// `console=NAME[,options]` in `proc/cmdline` and the first field of each line of `proc/consoles`, resolved through
    /// `class/tty/NAME/device`. Taking the console away leaves the host without its log and emergency shell: in use.
    mutating func consoles() {
        var names: [(name: String, source: String)] = []
        if let cmdline = try? proc.read("cmdline") {
            for argument in cmdline.split(whereSeparator: { $0 == " " || $0 == "\n" }) where argument.hasPrefix("console=") {
                let value = argument.dropFirst("console=".count)
                let name = String(value.split(separator: ",", maxSplits: 1).first ?? "")
                if !name.isEmpty { names.append((name, "console=\(value) in /proc/cmdline")) }
            }
        }
        if let consoles = try? proc.read("consoles") {
            for line in consoles.split(separator: "\n") {
                if let name = line.split(separator: " ").first { names.append((String(name), "/proc/consoles")) }
            }
        }
        var done = Set<String>()
        for (name, source) in names where !done.contains(name) && !name.contains("/") && name != "." && name != ".." {
            done.insert(name)
            guard sysfs.existsWithoutFollowing("class/tty/\(name)"),
                  let device = pciDevice(behindLink: "class/tty/\(name)/device") ?? pciDevice(behindLink: "class/tty/\(name)")
            else { continue }
            add(device, .console, "carries \(name), the kernel's console (\(source))",
                ["class/tty/\(name)/device", source.hasPrefix("console=") ? "proc/cmdline" : "proc/consoles"])
        }
    }

    /// The PCI device that carries every keyboard the host has (`class/input/inputN` whose `capabilities/key` has
    /// the keys Esc, 1 to 0 and Q to D: udev's `ID_INPUT_KEYBOARD` test), when there is exactly one: passing it to a
    /// guest leaves the host without a local keyboard. Virtual keyboards (`devices/virtual`, uinput) do not count; a
    /// keyboard on a platform device (i8042) counts as another keyboard. In use unless the policy says otherwise
    /// (`[host_use] only_keyboard = "free"`).
    mutating func keyboards() {
        guard options.onlyKeyboardInUse else { return }
        var carriers: [PCIAddress: [String]] = [:]
        var elsewhere = false
        for input in ((try? sysfs.list("class/input")) ?? []).sorted() where input.hasPrefix("input") {
            guard let key = try? sysfs.read("class/input/\(input)/capabilities/key"), Self.isKeyboard(key) else { continue }
            guard let resolved = Self.realPath(sysfs.absolute("class/input/\(input)")),
                  !resolved.contains("/devices/virtual/") else { continue }
            let name = (try? sysfs.read("class/input/\(input)/name")).map { "\(input) \"\($0)\"" } ?? input
            if let device = pciDevice(behindLink: "class/input/\(input)") {
                carriers[device, default: []].append(name)
            } else {
                elsewhere = true
            }
        }
        guard carriers.count == 1, !elsewhere, let (device, names) = carriers.first else { return }
        add(device, .keyboard,
            "carries every keyboard the host has (\(names.joined(separator: ", "))): without it the host has no local keyboard",
            names.map { "class/input/\($0.split(separator: " ")[0])/capabilities/key" })
    }

    /// udev's keyboard test (`input_id`): bits 1 to 31 of the key bitmap (Esc, the digits, Q to D) all set. The file
    /// is words in hex, most significant first; the last word holds bits 0 to 63 (or 0 to 31 on 32-bit kernels).
    static func isKeyboard(_ capabilities: String) -> Bool {
        guard let last = capabilities.split(separator: " ").last, let word = UInt64(last, radix: 16) else { return false }
        return word & 0xFFFF_FFFE == 0xFFFF_FFFE
    }
}
