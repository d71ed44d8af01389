import BedsideFuzzSupport

#if FUZZING
// libFuzzer's hooks (see Tests/Fuzz/README.md). The target is picked once, before the first input.
@_cdecl("LLVMFuzzerInitialize")
func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    FuzzDriver.select(from: coreTargets)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzDriver.testOneInput(data, size)
}

// SwiftPM links an executable with main aliased to the module's entry point, which then shadows
// libFuzzer's main: start libFuzzer's driver from here, as its main would.
@_cdecl("bedside_fuzz_main")
func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.runLibFuzzer(argc, argv) { data, size in fuzzerTestOneInput(data, size) }
}
#else
@main
enum BedsideFuzz {
    static func main() { FuzzDriver.main(targets: coreTargets) }
}
#endif
