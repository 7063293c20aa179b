// UeventDecoder.decode over a property blob as the kernel sends it (KEY=VALUE records separated by NUL or
// newline, as `udevadm monitor --property` and the netlink payload show them), and EventReplay.decode(line:)
// over the same bytes as one line of a replay file.
#if canImport(Glibc)
import Glibc
#endif
import Sysfs
import Topology
import Udev

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var properties: [String: String] = [:]
    for record in bytes.split(whereSeparator: { $0 == 0 || $0 == 0x0A }) {
        let text = String(decoding: record, as: UTF8.self)
        guard let equals = text.firstIndex(of: "=") else { continue }
        properties[String(text[..<equals])] = String(text[text.index(after: equals)...])
    }
    do {
        let event = try UeventDecoder.decode(properties)
        // The address printed must parse back to itself.
        precondition(PCIAddress(event.address.description) == event.address, "address round trip: \(event.address)")
    } catch {
        _ = error.description
    }
    let line = String(decoding: bytes, as: UTF8.self)
    if !line.contains("\n") {
        do { _ = try EventReplay.decode(line: line, number: 1) } catch { _ = error.description }
    }
    return 0
}

// SwiftPM links an executable target's top-level code as its `main`, so libFuzzer's own `main` is not used:
// this hands the command line to libFuzzer's driver with the function above as the target.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzOne(data, size) }))
