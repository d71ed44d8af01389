/// A key press, as the terminal or a script delivers it.
public enum Key: Sendable, Equatable, Hashable {
    case character(Character)
    case enter, tab, backTab, escape, backspace, delete
    case up, down, left, right, pageUp, pageDown, home, end
    case function(Int)
    /// Ctrl plus a letter, lower case.
    case control(Character)

    /// Parses the names used by headless scripts: `Enter`, `Ctrl-C`, `F1`, `Space`, ...
    public init?(name: String) {
        switch name {
        case "Enter": self = .enter
        case "Tab": self = .tab
        case "BackTab": self = .backTab
        case "Esc": self = .escape
        case "Backspace": self = .backspace
        case "Delete": self = .delete
        case "Up": self = .up
        case "Down": self = .down
        case "Left": self = .left
        case "Right": self = .right
        case "PageUp": self = .pageUp
        case "PageDown": self = .pageDown
        case "Home": self = .home
        case "End": self = .end
        case "Space": self = .character(" ")
        default:
            if name.hasPrefix("Ctrl-"), name.count == 6, let letter = name.last, letter.isLetter {
                self = .control(Character(letter.lowercased()))
            } else if name.hasPrefix("F"), let number = Int(name.dropFirst()), (1...12).contains(number) {
                self = .function(number)
            } else if name.count == 1, let character = name.first {
                self = .character(character)
            } else {
                return nil
            }
        }
    }
}
