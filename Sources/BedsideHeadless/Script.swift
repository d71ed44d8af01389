import BedsideUI

/// A parsed headless script (DESIGN.md "Headless scripts").
public struct Script: Sendable, Equatable {
    public enum Command: Sendable, Equatable {
        case size(width: Int, height: Int)
        case type(String)
        /// Types the next line of standard input (a harness hands over a mailed code when the screen asks).
        case typeStandardInput
        case press([Key])
        case expect(String)
        case expectNot(String)
        case expectLine(Int, String)
        case waitFor(String, milliseconds: Int64)
        case tick(milliseconds: Int64)
        case resize(width: Int, height: Int)
        case sync
        /// Cut or restore the network between the app and the server (needs a harness that can, e.g. the tests' proxy).
        case network(Bool)
        case screen
        case snapshot(String)
    }

    public struct Step: Sendable, Equatable {
        public var line: Int
        public var source: String
        public var command: Command
    }

    public var name: String
    public var steps: [Step]
}

/// Why a script could not be read; names the line.
public struct ScriptError: Error, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var line: Int
    public var message: String

    public var description: String { "\(name):\(line): \(message)" }
}

public enum ScriptParser {
    /// Parses a script; `${NAME}` in quoted text is left for the runner to expand when the step runs.
    public static func parse(_ text: String, name: String) throws(ScriptError) -> Script {
        var steps: [Script.Step] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            func fail(_ message: String) -> ScriptError { ScriptError(name: name, line: number, message: message) }
            var words: [Word]
            do {
                words = try tokenize(String(rawLine))
            } catch {
                throw fail(error.message)
            }
            guard let first = words.first else { continue }
            guard case .bare(let verb) = first else { throw fail("a line starts with a command, not a quoted string") }
            words.removeFirst()
            func quoted(_ index: Int) throws(ScriptError) -> String {
                guard words.indices.contains(index), case .quoted(let text) = words[index] else {
                    throw fail("\(verb) needs a quoted string, e.g. \(verb) \"Blood pressure\"")
                }
                return text
            }
            func bare(_ index: Int) throws(ScriptError) -> String {
                guard words.indices.contains(index), case .bare(let text) = words[index] else { throw fail("\(verb) needs a value") }
                return text
            }
            func expectCount(_ count: Int) throws(ScriptError) {
                if words.count != count { throw fail("\(verb) takes \(count) argument\(count == 1 ? "" : "s"), got \(words.count)") }
            }
            let command: Script.Command
            switch verb {
            case "size", "resize":
                try expectCount(1)
                guard let size = parseSize(try bare(0)) else { throw fail("\(verb) takes WIDTHxHEIGHT, e.g. 80x24 (at least 20x6)") }
                command = verb == "size" ? .size(width: size.0, height: size.1) : .resize(width: size.0, height: size.1)
            case "type":
                try expectCount(1)
                command = .type(try quoted(0))
            case "type-stdin":
                try expectCount(0)
                command = .typeStandardInput
            case "press":
                guard !words.isEmpty else { throw fail("press needs a key, e.g. press Enter") }
                var keys: [Key] = []
                for index in words.indices {
                    let name = try bare(index)
                    guard let key = Key(name: name) else {
                        throw fail("unknown key \(name) (Enter Tab BackTab Esc Up Down Left Right PageUp PageDown Home End Backspace Delete F1..F12 Ctrl-A..Ctrl-Z Space)")
                    }
                    keys.append(key)
                }
                command = .press(keys)
            case "expect":
                try expectCount(1)
                command = .expect(try quoted(0))
            case "expect-not":
                try expectCount(1)
                command = .expectNot(try quoted(0))
            case "expect-line":
                try expectCount(2)
                guard let row = Int(try bare(0)), row >= 0 else { throw fail("expect-line takes a line number from 0") }
                command = .expectLine(row, try quoted(1))
            case "wait-for":
                guard words.count == 1 || words.count == 2 else { throw fail("wait-for takes a quoted text and a time, e.g. wait-for \"Synced\" 5s") }
                let timeout = words.count == 2 ? parseDuration(try bare(1)) : 5000
                guard let timeout else { throw fail("a time is written like 500ms, 5s, 16m or 2h") }
                command = .waitFor(try quoted(0), milliseconds: timeout)
            case "tick":
                try expectCount(1)
                guard let duration = parseDuration(try bare(0)) else { throw fail("a time is written like 500ms, 5s, 16m or 2h") }
                command = .tick(milliseconds: duration)
            case "sync":
                try expectCount(0)
                command = .sync
            case "network":
                try expectCount(1)
                let state = try bare(0)
                guard state == "on" || state == "off" else { throw fail("network is on or off") }
                command = .network(state == "on")
            case "screen":
                try expectCount(0)
                command = .screen
            case "snapshot":
                try expectCount(1)
                let name = try bare(0)
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }), !name.hasPrefix(".") else {
                    throw fail("a snapshot name uses letters, digits, '-', '_' and '.'")
                }
                command = .snapshot(name)
            default:
                throw fail("unknown command \(verb) (size type type-stdin press expect expect-not expect-line wait-for tick resize sync network screen snapshot)")
            }
            steps.append(Script.Step(line: number, source: String(rawLine).trimmedLine(), command: command))
        }
        return Script(name: name, steps: steps)
    }

    enum Word: Equatable {
        case bare(String)
        case quoted(String)
    }

    struct TokenError: Error { var message: String }

    /// Splits a line into words and quoted strings; `#` outside quotes starts a comment.
    static func tokenize(_ line: String) throws(TokenError) -> [Word] {
        var words: [Word] = []
        var characters = Array(line)[...]
        while let first = characters.first {
            if first == " " || first == "\t" || first == "\r" {
                characters.removeFirst()
                continue
            }
            if first == "#" { break }
            if first == "\"" {
                characters.removeFirst()
                var text = ""
                var closed = false
                while let character = characters.popFirst() {
                    if character == "\"" {
                        closed = true
                        break
                    }
                    if character == "\\" {
                        guard let escaped = characters.popFirst() else { break }
                        switch escaped {
                        case "n": text.append("\n")
                        case "t": text.append("\t")
                        default: text.append(escaped)
                        }
                    } else {
                        text.append(character)
                    }
                }
                guard closed else { throw TokenError(message: "a quoted string is not closed") }
                words.append(.quoted(text))
            } else {
                var word = ""
                while let character = characters.first, character != " ", character != "\t", character != "\r" {
                    word.append(character)
                    characters.removeFirst()
                }
                words.append(.bare(word))
            }
        }
        return words
    }

    static func parseSize(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width >= 20, height >= 6, width <= 1000,
            height <= 1000
        else { return nil }
        return (width, height)
    }

    /// `500ms`, `5s`, `16m`, `2h` in milliseconds.
    public static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Int64(text.dropLast(suffix.count)), value >= 0, value < 1_000_000 else { return nil }
            return value * scale
        }
        return nil
    }
}

extension String {
    func trimmedLine() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
