import Foundation

/// One run of a program to its end: its exit status, what it printed and what it complained.
public struct ChildProcessResult: Sendable {
    public var status: Int32
    public var output: Data
    public var errors: String

    public var outputText: String { String(decoding: output, as: UTF8.self) }
}

/// Runs programs for tests the one safe way: launched one at a time (`ProcessLaunch`), fed and read on
/// a thread of their own (`offPool`), both pipes drained together so a chatty child cannot block.
public enum ChildProcess {
    /// Runs `executable` with `arguments`; `input` is written to its stdin (nil: stdin is /dev/null).
    /// `environment` nil: the test's own.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil
    ) async throws -> ChildProcessResult {
        try await offPool { try runBlocking(executable, arguments, environment: environment, input: input) }
    }

    /// `run` for code already on a thread of its own (never from an async test).
    public static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil
    ) throws -> ChildProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try ProcessLaunch.run(process)
        if let input {
            stdin.fileHandleForWriting.send(input)
            try? stdin.fileHandleForWriting.close()
        }
        let errors = ErrorsReader(stderr.fileHandleForReading)
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let complained = errors.wait()
        process.waitUntilExit()
        return ChildProcessResult(status: process.terminationStatus, output: output, errors: String(decoding: complained, as: UTF8.self))
    }
}

/// Drains a pipe on its own thread while the caller reads the other one.
private final class ErrorsReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
