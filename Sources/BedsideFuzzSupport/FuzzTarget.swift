/// One fuzz target: a function from arbitrary bytes to nothing, which must neither crash nor hang.
///
/// A target checks its own properties (a round trip that must be equal, an answer that must come) with
/// `FuzzTarget.require`, which traps: a trap is what libFuzzer records as a finding, and what makes a
/// replay exit non-zero.
public struct FuzzTarget: Sendable {
    /// The name used on the command line, in `BEDSIDE_FUZZ_TARGET` and as the corpus folder name.
    public let name: String
    /// One line for `list`.
    public let summary: String
    /// The longest input worth trying; longer ones only slow the fuzzer down (passed as `-max_len`).
    public let maximumLength: Int
    let body: @Sendable ([UInt8]) -> Void

    public init(_ name: String, summary: String, maximumLength: Int = 4096, body: @escaping @Sendable ([UInt8]) -> Void) {
        self.name = name
        self.summary = summary
        self.maximumLength = maximumLength
        self.body = body
    }

    /// Runs one input.
    public func run(_ bytes: [UInt8]) { body(bytes) }

    /// Stops the process when a property of the code under test does not hold. Unlike `precondition`
    /// it also traps in release builds, where the fuzzers run.
    public static func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
        if !condition { fatalError("fuzz property failed: \(message())", file: file, line: line) }
    }
}
