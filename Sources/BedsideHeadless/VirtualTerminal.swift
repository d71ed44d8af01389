import BedsideApp
import BedsideUI

/// A terminal without a screen: the event loop draws into it and reads the events a script hands it,
/// so scripts run the very loop the real terminal does.
public final class VirtualTerminal: TerminalDevice, @unchecked Sendable {
    public private(set) var size: (width: Int, height: Int)
    /// What the loop last drew, blank after a clear.
    public private(set) var screen: Frame
    /// How many frames were drawn (the loop draws only what changed).
    public private(set) var draws = 0
    /// How many times the screen was blanked (each lock).
    public private(set) var clears = 0
    private var events: [TerminalEvent] = []

    public init(width: Int, height: Int) {
        size = (width, height)
        screen = Frame(width: width, height: height)
    }

    /// Input for the loop, taken at its next turn. A resize changes the size at once, as a terminal
    /// window does before the program hears of it.
    public func send(_ event: TerminalEvent) {
        if case .resize(let width, let height) = event { size = (width, height) }
        events.append(event)
    }

    public func draw(_ frame: Frame) {
        screen = frame
        draws += 1
    }

    /// Virtual time does not pass while waiting: an event, or none at once.
    public func nextEvent(timeoutMilliseconds: Int) -> TerminalEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    public func clear() {
        screen = Frame(width: size.width, height: size.height)
        clears += 1
    }
}
