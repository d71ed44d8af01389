/// An editable line of text with a cursor; `masked` fields show bullets (passwords).
public struct TextField: Sendable, Equatable {
    public var text: String
    /// Cursor position in characters.
    public var cursor: Int
    public var masked: Bool
    public var maxLength: Int
    /// Why the content is not acceptable, shown beside the field.
    public var error: String?

    public init(_ text: String = "", masked: Bool = false, maxLength: Int = 200) {
        self.text = text
        self.cursor = text.count
        self.masked = masked
        self.maxLength = maxLength
    }

    /// Applies an editing key; returns false when the key is not an editing key.
    public mutating func handle(_ key: Key) -> Bool {
        switch key {
        case .character(let character):
            guard text.count < maxLength, !character.isNewline else { return true }
            let index = text.index(text.startIndex, offsetBy: cursor)
            text.insert(character, at: index)
            cursor += 1
        case .backspace:
            guard cursor > 0 else { return true }
            let index = text.index(text.startIndex, offsetBy: cursor - 1)
            text.remove(at: index)
            cursor -= 1
        case .delete, .control("d"):
            guard cursor < text.count else { return true }
            text.remove(at: text.index(text.startIndex, offsetBy: cursor))
        case .left, .control("b"): cursor = max(0, cursor - 1)
        case .right, .control("f"): cursor = min(text.count, cursor + 1)
        case .home, .control("a"): cursor = 0
        case .end, .control("e"): cursor = text.count
        case .control("u"):
            text.removeFirst(cursor)
            cursor = 0
        case .control("k"):
            text.removeLast(text.count - cursor)
        default:
            return false
        }
        error = nil
        return true
    }

    /// What the screen shows: bullets for a masked field.
    public var display: String { masked ? String(repeating: "•", count: text.count) : text }

    /// Forgets the content (passwords, once used).
    public mutating func clear() {
        text = ""
        cursor = 0
    }
}
