import BedsideUI

/// What the event loop needs from a screen: the ncurses terminal and the headless screen both provide it.
public protocol TerminalDevice: AnyObject {
    /// Columns and rows now.
    var size: (width: Int, height: Int) { get }
    /// Shows a frame; implementations write only the cells that changed.
    func draw(_ frame: Frame)
    /// Waits up to `milliseconds` for input.
    func nextEvent(timeoutMilliseconds: Int) -> TerminalEvent?
    /// Blanks the screen at once (locking must not leave data on it).
    func clear()
}

public enum TerminalEvent: Sendable, Equatable {
    case key(Key)
    case resize(width: Int, height: Int)
    /// SIGTERM, SIGHUP: leave now, cleanly.
    case terminate
}
