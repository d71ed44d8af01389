import Foundation
import Testing

/// Test switches (a cheaper key derivation, a requested crash) must not exist in a release build.
/// `swift build` defines DEBUG in debug builds only, so a switch read inside `#if DEBUG` is compiled
/// out of the shipped binary; this check finds any switch read outside such a block.
@Suite("test switches")
struct TestSwitchTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every line of `Sources` naming a `BEDSIDE_TEST_` variable that is not inside `#if DEBUG`.
    static func unguardedSwitches() throws -> [String] {
        let sources = packageRoot.appendingPathComponent("Sources")
        guard let walker = FileManager.default.enumerator(atPath: sources.path) else { throw TestFailure("no Sources at \(sources.path)") }
        var found: [String] = []
        var scanned = 0
        for case let relative as String in walker where relative.hasSuffix(".swift") {
            scanned += 1
            let text = try String(contentsOf: sources.appendingPathComponent(relative), encoding: .utf8)
            // A stack of the open #if blocks: whether each (in its current branch) is a debug-only one.
            var debugOnly: [Bool] = []
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("#if ") {
                    debugOnly.append(trimmed == "#if DEBUG")
                } else if trimmed.hasPrefix("#else") || trimmed.hasPrefix("#elseif") {
                    if !debugOnly.isEmpty { debugOnly[debugOnly.count - 1] = false }
                } else if trimmed.hasPrefix("#endif") {
                    _ = debugOnly.popLast()
                } else if trimmed.contains("BEDSIDE_TEST_") && !debugOnly.contains(true) {
                    found.append("\(relative):\(number + 1): \(trimmed)")
                }
            }
        }
        guard scanned > 50 else { throw TestFailure("only \(scanned) Swift files found under \(sources.path)") }
        return found
    }

    @Test("every BEDSIDE_TEST_ switch is read only inside #if DEBUG")
    func switchesAreDebugOnly() throws {
        let unguarded = try Self.unguardedSwitches()
        #expect(unguarded.isEmpty, "read in a release build: \(unguarded)")
    }
}
