// RecordCodec.check / decode over one JSONL line of a journal file (what `journal`, `journal --verify` and
// the follower read from disk, which an operator or a crash can have damaged).
#if canImport(Glibc)
import Glibc
#endif
import Journal

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch RecordCodec.check(bytes) {
    case .valid(let record):
        // A record that checks out must re-encode to a line that checks out too, with the same hash.
        if let (line, hash) = try? RecordCodec.encodeLine(record) {
            var body = line
            if body.last == 0x0A { body.removeLast() }
            guard case .valid = RecordCodec.check(body) else { preconditionFailure("re-encoded record does not check") }
            _ = hash
        }
    case .hashMismatch(let record, _):
        _ = "\(record)"
    case .malformed(let why):
        _ = why
    }
    _ = try? RecordCodec.decode(bytes)
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
