import BedsideApp
import BedsideUI
import CNcursesw
import Foundation
import Synchronization

/// The terminal, through ncursesw: alternate screen, raw keys, colours from the theme, and only the
/// cells that changed written on each frame. The terminal is restored on every way out: quit, Ctrl-C,
/// SIGTERM/SIGHUP/SIGINT, and crashes (the crash handler restores the saved tty state with async-signal-safe calls).
public final class NcursesTerminal: TerminalDevice {
    private let theme: Theme
    private var previous: Frame?
    private var pairs: [PairKey: Int16] = [:]
    private var colorMode: ColorMode = .none
    private var active = false

    enum ColorMode { case none, basic, palette256 }

    struct PairKey: Hashable {
        var foreground: Int16
        var background: Int16
    }

    public init(theme: Theme) {
        self.theme = theme
    }

    /// Takes over the terminal. Call `stop()` (or let `deinit`) to give it back.
    /// Set by `start` when the locale asked for could not be used for characters; said once after `stop`.
    public private(set) var localeNotice: String?

    public func start() throws {
        TerminalRestore.install()
        localeNotice = TerminalLocale.useUTF8Characters()
        guard initscr() != nil else { throw TerminalError.notATerminal }
        active = true
        raw()
        noecho()
        nonl()
        keypad(bedside_stdscr(), true)
        // Escape arrives alone quickly; arrow keys are still read as one key.
        set_escdelay(25)
        if has_colors() && theme.usesColor {
            start_color()
            use_default_colors()
            colorMode = bedside_colors() >= 256 ? .palette256 : .basic
        }
        clear()
        refresh()
    }

    public func stop() {
        guard active else { return }
        active = false
        curs_set(1)
        endwin()
    }

    deinit { stop() }

    public var size: (width: Int, height: Int) { (Int(bedside_cols()), Int(bedside_lines())) }

    public func clear() {
        previous = nil
        erase()
        refresh()
    }

    public func draw(_ frame: Frame) {
        let full = previous == nil || previous?.width != frame.width || previous?.height != frame.height
        if full { erase() }
        for y in 0..<frame.height {
            for x in 0..<frame.width {
                let cell = frame[x, y]
                if !full, let previous, previous[x, y] == cell { continue }
                if cell.character.isEmpty { continue }  // right half of a wide character
                let (attributes, pair) = style(for: cell.role)
                _ = bedside_put(Int32(y), Int32(x), cell.character, attributes, pair)
            }
        }
        if let cursor = frame.cursor {
            curs_set(1)
            move(Int32(cursor.y), Int32(cursor.x))
        } else {
            curs_set(0)
        }
        refresh()
        previous = frame
    }

    public func nextEvent(timeoutMilliseconds: Int) -> TerminalEvent? {
        if TerminalRestore.terminationRequested { return .terminate }
        timeout(Int32(timeoutMilliseconds))
        var character: wint_t = 0
        let result = get_wch(&character)
        if TerminalRestore.terminationRequested { return .terminate }
        if result == bedside_err() { return nil }
        if result == bedside_key_code_yes() {
            let code = Int32(character)
            if code == bedside_key_resize() {
                previous = nil
                return .resize(width: Int(bedside_cols()), height: Int(bedside_lines()))
            }
            return Self.specialKey(code).map { .key($0) }
        }
        return Self.characterKey(UInt32(character)).flatMap { key in
            if key == .control("z") {
                suspend()
                return .resize(width: Int(bedside_cols()), height: Int(bedside_lines()))
            }
            return .key(key)
        }
    }

    /// Ctrl-Z: give the terminal back, stop, and take it again when continued.
    private func suspend() {
        endwin()
        kill(getpid(), SIGSTOP)
        refresh()
        previous = nil
    }

    static func characterKey(_ value: UInt32) -> Key? {
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26: return .control(Character(Unicode.Scalar(value + 96) ?? "?"))
        case 0..<32: return nil
        default: return Unicode.Scalar(value).map { .character(Character($0)) }
        }
    }

    static func specialKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_ENTER: return .enter
        case KEY_BTAB: return .backTab
        default:
            for number in 1...12 where code == bedside_key_f(Int32(number)) { return .function(number) }
            return nil
        }
    }

    // MARK: Colours

    private func style(for role: StyleRole) -> (attr_t, Int16) {
        let style = theme.style(role)
        var attributes: attr_t = 0
        if style.bold { attributes |= bedside_a_bold() }
        if style.underline { attributes |= bedside_a_underline() }
        if style.reverse { attributes |= bedside_a_reverse() }
        if style.dim { attributes |= bedside_a_dim() }
        guard colorMode != .none else { return (attributes, 0) }
        let key = PairKey(foreground: colorIndex(style.foreground), background: colorIndex(style.background))
        if key.foreground == -1 && key.background == -1 { return (attributes, 0) }
        if let pair = pairs[key] { return (attributes, pair) }
        let number = Int16(pairs.count + 1)
        guard Int32(number) < bedside_color_pairs() else { return (attributes, 0) }
        init_pair(number, key.foreground, key.background)
        pairs[key] = number
        return (attributes, number)
    }

    private func colorIndex(_ color: ThemeColor) -> Int16 {
        guard case .rgb(let r, let g, let b) = color else { return -1 }
        return colorMode == .palette256 ? Palette.nearest256(r, g, b) : Palette.nearest8(r, g, b)
    }
}

public enum TerminalError: Error, CustomStringConvertible {
    case notATerminal

    public var description: String { "This is not a terminal. Use `bedside headless SCRIPT` or the other commands." }
}

/// The xterm palettes, for turning theme colours into what the terminal has.
enum Palette {
    static let cube: [Int] = [0, 95, 135, 175, 215, 255]

    static func nearest256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int16 {
        func level(_ value: UInt8) -> Int {
            var best = 0
            for (index, candidate) in cube.enumerated() where abs(candidate - Int(value)) < abs(cube[best] - Int(value)) { best = index }
            return best
        }
        let (ri, gi, bi) = (level(r), level(g), level(b))
        let cubeColor = (cube[ri], cube[gi], cube[bi])
        let cubeIndex = 16 + 36 * ri + 6 * gi + bi
        let average = (Int(r) + Int(g) + Int(b)) / 3
        let grayIndex = max(0, min(23, (average - 8) / 10))
        let grayValue = 8 + grayIndex * 10
        func distance(_ a: (Int, Int, Int)) -> Int {
            let dr = a.0 - Int(r), dg = a.1 - Int(g), db = a.2 - Int(b)
            return dr * dr + dg * dg + db * db
        }
        return Int16(distance(cubeColor) <= distance((grayValue, grayValue, grayValue)) ? cubeIndex : 232 + grayIndex)
    }

    static func nearest8(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int16 {
        let colors: [(Int16, Int, Int, Int)] = [
            (0, 0, 0, 0), (1, 205, 0, 0), (2, 0, 205, 0), (3, 205, 205, 0), (4, 0, 0, 238), (5, 205, 0, 205), (6, 0, 205, 205),
            (7, 229, 229, 229),
        ]
        return colors.min { lhs, rhs in
            let dl = (lhs.1 - Int(r)) * (lhs.1 - Int(r)) + (lhs.2 - Int(g)) * (lhs.2 - Int(g)) + (lhs.3 - Int(b)) * (lhs.3 - Int(b))
            let dr = (rhs.1 - Int(r)) * (rhs.1 - Int(r)) + (rhs.2 - Int(g)) * (rhs.2 - Int(g)) + (rhs.3 - Int(b)) * (rhs.3 - Int(b))
            return dl < dr
        }?.0 ?? 7
    }
}
