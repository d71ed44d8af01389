import BedsideCore

/// One character cell on the screen.
public struct Cell: Sendable, Equatable {
    /// The grapheme shown; empty for the right half of a wide character.
    public var character: String
    public var role: StyleRole

    public static let blank = Cell(character: " ", role: .text)
}

/// What a view draws: a grid of cells, like ratatui's Buffer. The terminal diffs two Frames and writes
/// only what changed; tests read a Frame as lines of text.
public struct Frame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    /// Where the terminal cursor should be (a text field being edited), if anywhere.
    public var cursor: (x: Int, y: Int)?

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Writes `text` from column `x` on row `y`, clipped at `maxWidth` columns (and the frame's edge).
    /// Control characters are shown as visible placeholders: nothing from outside can reach the terminal raw.
    /// Returns the number of columns used.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, role: StyleRole = .text, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let limit = min(width, x + (maxWidth ?? width))
        var column = x
        for character in text {
            let safe = TextWidth.printable(character)
            let columns = TextWidth.columns(of: safe)
            if columns == 0 { continue }
            guard column + columns <= limit else { break }
            if column >= 0 {
                self[column, y] = Cell(character: String(safe), role: role)
                if columns == 2 { self[column + 1, y] = Cell(character: "", role: role) }
            }
            column += columns
        }
        return column - x
    }

    /// Paints the role over a row range without changing the characters (a selection bar).
    public mutating func fill(role: StyleRole, x: Int = 0, y: Int, width fillWidth: Int? = nil) {
        guard y >= 0, y < height else { return }
        let end = min(width, x + (fillWidth ?? width))
        for column in max(0, x)..<max(max(0, x), end) { self[column, y].role = role }
    }

    /// The screen as lines of text, trailing spaces kept (snapshots compare whole lines).
    public var lines: [String] {
        (0..<height).map { row in
            var line = ""
            for column in 0..<width { line += self[column, row].character }
            return line
        }
    }

    /// All the text, one line per row, for `expect` in scripts and for screen tests.
    public var text: String { lines.joined(separator: "\n") }

    public static func == (lhs: Frame, rhs: Frame) -> Bool {
        lhs.width == rhs.width && lhs.height == rhs.height && lhs.cells == rhs.cells
            && lhs.cursor?.x == rhs.cursor?.x && lhs.cursor?.y == rhs.cursor?.y
    }
}

/// How many columns a character takes in a terminal, and how to make any character safe to show.
public enum TextWidth {
    /// Control characters (C0, DEL, C1) and bidi overrides become visible symbols, so text from a
    /// server or a file can never move the cursor, change colours or retitle the terminal. The same
    /// function as the command line's (`TerminalText`), so the two cannot drift apart.
    public static func printable(_ character: Character) -> Character {
        TerminalText.printable(character)
    }

    public static func columns(of character: Character) -> Int {
        guard let scalar = character.unicodeScalars.first else { return 0 }
        let value = scalar.value
        if scalar.properties.generalCategory == .nonspacingMark || scalar.properties.generalCategory == .enclosingMark
            || value == 0x200B || value == 0x200D
        {
            return 0
        }
        if scalar.properties.isEmojiPresentation { return 2 }
        switch value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
            0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }

    public static func columns(of text: String) -> Int {
        text.reduce(0) { $0 + columns(of: printable($1)) }
    }

    /// `text` cut to `width` columns, with an ellipsis when something was cut.
    public static func truncate(_ text: String, to width: Int) -> String {
        guard columns(of: text) > width else { return text }
        guard width > 1 else { return width == 1 ? "…" : "" }
        var result = ""
        var used = 0
        for character in text {
            let next = columns(of: printable(character))
            if used + next > width - 1 { break }
            result.append(character)
            used += next
        }
        return result + "…"
    }

    /// Splits `text` into lines of at most `width` columns at spaces (long words are cut).
    public static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ", omittingEmptySubsequences: false) {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if columns(of: candidate) <= width {
                    line = candidate
                    continue
                }
                if !line.isEmpty { lines.append(line) }
                var rest = String(word)
                while columns(of: rest) > width {
                    let head = truncate(rest, to: width + 1).dropLast()
                    lines.append(String(head))
                    rest = String(rest.dropFirst(head.count))
                }
                line = rest
            }
            lines.append(line)
        }
        return lines
    }
}
