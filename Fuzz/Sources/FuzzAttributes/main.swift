// The sysfs attribute parsers (AttributeParsers), PCIAddress.parse, and the PCIe Device Serial Number
// capability walk over a config-space image (PCISerialNumber.parse(config:)). The first byte picks the
// parser, the rest is the text (or the config bytes).
#if canImport(Glibc)
import Glibc
#endif
import Policy
import Sysfs
import Topology

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let rest = Array(bytes[1...])
    let text = String(decoding: rest, as: UTF8.self)
    switch bytes[0] % 8 {
    case 0:
        if let address = try? PCIAddress.parse(text) {
            // What parses prints in the kernel's form, and that form parses back to the same address.
            precondition(PCIAddress(address.description) == address, "round trip of '\(text)'")
        }
        _ = PCIAddress(text)
    case 1:
        for digits in [4, 6] { _ = AttributeParsers.hexID(text, digits: digits) }
    case 2: _ = AttributeParsers.driverOverride(text)
    case 3: _ = AttributeParsers.count(text)
    case 4: _ = AttributeParsers.flag(text)
    case 5: _ = AttributeParsers.groupNumber(linkTarget: text)
    case 6: _ = AttributeParsers.parentBridge(devicePathTarget: text)
    default:
        if let serial = PCISerialNumber.parse(config: rest) { _ = PCISerialNumber.normalise(serial) }
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
