/// Text from outside (a server, a file, a form) made safe to show on a terminal.
///
/// Control characters (C0, DEL, C1) and bidi embeddings, overrides and isolates become visible symbols, so
/// such text can never move the cursor, change colours, retitle the window, or turn a line around. The
/// terminal app (through Frame) and the command line use this one function, so they cannot drift apart.
public enum TerminalText {
    /// `scalar` itself, or the visible symbol that stands for it.
    public static func printable(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x00...0x1F: return Unicode.Scalar(0x2400 + scalar.value) ?? "\u{FFFD}"  // ␀…␟
        case 0x7F: return "\u{2421}"  // ␡
        case 0x80...0x9F, 0x202A...0x202E, 0x2066...0x2069: return "\u{FFFD}"
        default: return scalar
        }
    }

    /// `character` itself, or the visible symbol for its first control scalar (a terminal cell shows one).
    public static func printable(_ character: Character) -> Character {
        for scalar in character.unicodeScalars where printable(scalar) != scalar { return Character(printable(scalar)) }
        return character
    }

    /// `text` with every control scalar replaced by its visible symbol; with `keepingLineBreaks`, line feeds
    /// stay line breaks (for a message of several lines) and everything else is still made visible.
    public static func inert(_ text: String, keepingLineBreaks: Bool = false) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            result.append(keepingLineBreaks && scalar == "\n" ? scalar : printable(scalar))
        }
        return String(result)
    }
}
