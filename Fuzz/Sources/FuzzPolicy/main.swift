// Policy.parse(text:file:): TOML through TOMLKit, then validation with line/column locations.
// Any input must give a Policy or PolicyErrors; a crash, a trap, a leak or a hang is a bug.
#if canImport(Glibc)
import Glibc
#endif
import Policy

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let policy = try Policy.parse(text: text, file: "fuzz.toml")
        _ = "\(policy)"
    } catch {
        // Every error must render (file:line:column messages index into the text).
        _ = error.description
    }
    return 0
}

// SwiftPM links an executable target's top-level code as its `main`, so libFuzzer's own `main` is not used:
// this hands the command line to libFuzzer's driver with the function above as the target.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzOne(data, size) }))
