import Foundation

/// The command line of a fuzz binary, in its two builds.
///
/// A normal build (no `-DFUZZING`) is a replay tool: it runs saved inputs (corpora, crash regressions)
/// through the targets and exits non-zero if one traps or hangs, so CI checks them without the libFuzzer
/// build. Built with `-sanitize=fuzzer -DFUZZING`, the same targets are driven by libFuzzer and the target
/// is chosen by the `BEDSIDE_FUZZ_TARGET` environment variable (libFuzzer owns the arguments).
public enum FuzzDriver {
    /// A replayed input that runs longer than this is a hang, as `-timeout` makes it one for libFuzzer.
    public static let replayTimeoutSeconds: UInt32 = 10

    public static func main(targets: [FuzzTarget], arguments: [String] = CommandLine.arguments) -> Never {
        let tool = URL(fileURLWithPath: arguments.first ?? "bedside-fuzz").lastPathComponent
        let rest = Array(arguments.dropFirst())
        switch rest.first {
        case "list":
            for target in targets { print("\(target.name)\t\(target.maximumLength)\t\(target.summary)") }
            exit(0)
        case "replay" where rest.count >= 3:
            guard let target = targets.first(where: { $0.name == rest[1] }) else { usage(tool, targets, "unknown target \(rest[1])") }
            let count = replay(target, paths: Array(rest.dropFirst(2)), verbose: verbose)
            guard count > 0 else { fail("\(target.name): no inputs found in \(rest.dropFirst(2).joined(separator: " "))") }
            print("\(target.name): \(count) inputs, no crash, no hang")
            exit(0)
        case "replay-all" where rest.count >= 2:
            // Every target of this binary must have inputs: a folder that went missing must not pass silently.
            let roots = Array(rest.dropFirst())
            for target in targets {
                let folders = roots.map { URL(fileURLWithPath: $0).appendingPathComponent(target.name).path }
                    .filter { FileManager.default.fileExists(atPath: $0) }
                let count = replay(target, paths: folders, verbose: verbose)
                guard count > 0 else { fail("\(target.name): no inputs in \(roots.joined(separator: " or "))/\(target.name)") }
                print("\(target.name): \(count) inputs, no crash, no hang")
            }
            exit(0)
        default:
            usage(tool, targets, nil)
        }
    }

    private static var verbose: Bool { ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_VERBOSE"] == "1" }

    /// Runs every file in `paths` (files, or folders whose files are read) through `target`; the count run.
    static func replay(_ target: FuzzTarget, paths: [String], verbose: Bool) -> Int {
        var count = 0
        for path in paths {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
                // Named before it runs, so a trap or a hang can be traced to its input.
                if verbose { FileHandle.standardError.write(Data("\(target.name) \(file)\n".utf8)) }
                alarm(replayTimeoutSeconds)
                target.run(Array(data))
                alarm(0)
                count += 1
            }
        }
        return count
    }

    private static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("\(path) does not exist") }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
            .filter { file in
                var nested: ObjCBool = false
                return FileManager.default.fileExists(atPath: file, isDirectory: &nested) && !nested.boolValue
            }
    }

    private static func usage(_ tool: String, _ targets: [FuzzTarget], _ problem: String?) -> Never {
        if let problem { FileHandle.standardError.write(Data("\(tool): \(problem)\n".utf8)) }
        FileHandle.standardError.write(Data("""
            usage: \(tool) list
                   \(tool) replay TARGET FILE|DIR...
                   \(tool) replay-all ROOT...     (ROOT/TARGET/* for every target of this binary)
            targets: \(targets.map(\.name).joined(separator: " "))
            Built with -sanitize=fuzzer -DFUZZING this is a libFuzzer binary: BEDSIDE_FUZZ_TARGET=NAME \(tool) [libFuzzer options] [CORPUS...]
            See Tests/Fuzz/README.md.

            """.utf8))
        exit(2)
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(1)
    }

    #if FUZZING
    nonisolated(unsafe) private static var selected: FuzzTarget?

    /// Called from `LLVMFuzzerInitialize`: picks the target named by `BEDSIDE_FUZZ_TARGET`, which children
    /// started by `-fork` or `-jobs` inherit.
    public static func select(from targets: [FuzzTarget]) {
        let name = ProcessInfo.processInfo.environment["BEDSIDE_FUZZ_TARGET"] ?? ""
        guard let target = targets.first(where: { $0.name == name }) else {
            fail("set BEDSIDE_FUZZ_TARGET to one of: \(targets.map(\.name).joined(separator: " "))")
        }
        selected = target
    }

    /// libFuzzer's main loop (LLVMFuzzerRunDriver, which libFuzzer's own main calls too).
    public static func runLibFuzzer(
        _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments, testOneInput)
    }

    /// Called from `LLVMFuzzerTestOneInput`.
    public static func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        selected?.run(bytes)
        return 0
    }
    #endif
}

#if FUZZING
/// Provided by libFuzzer (-sanitize=fuzzer links it); declared here as no header of it is importable.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif
