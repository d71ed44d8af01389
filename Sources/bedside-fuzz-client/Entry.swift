import BedsideFuzzSupport

#if FUZZING
// libFuzzer's hooks (see Tests/Fuzz/README.md). The target is picked once, before the first input.
@_cdecl("LLVMFuzzerInitialize")
func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    FuzzDriver.select(from: clientTargets)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzDriver.testOneInput(data, size)
}

// SwiftPM links an executable with main aliased to the module's entry point, so the symbol must exist;
// libFuzzer's own main is the one that runs.
@_cdecl("bedside_fuzz_client_main")
func unusedEntryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { 1 }
#else
@main
enum BedsideFuzzClient {
    static func main() { FuzzDriver.main(targets: clientTargets) }
}
#endif
