import Foundation
import Synchronization

/// Gives the terminal back however the process ends.
///
/// On SIGTERM, SIGHUP and SIGINT a flag asks the event loop to leave through the normal path.
/// On a crash signal the handler does only async-signal-safe work: put back the tty settings saved at
/// start, write the escape sequences that leave the alternate screen and show the cursor, then die
/// of the same signal with the default action.
enum TerminalRestore {
    private static let termination = Atomic<Bool>(false)
    nonisolated(unsafe) private static var saved = termios()
    nonisolated(unsafe) private static var installed = false

    static var terminationRequested: Bool { termination.load(ordering: .relaxed) }

    static func install() {
        guard !installed else { return }
        installed = true
        _ = termination.load(ordering: .relaxed)  // initialise before any handler can run
        tcgetattr(STDIN_FILENO, &saved)
        for number in [SIGTERM, SIGHUP, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { _ in TerminalRestore.termination.store(true, ordering: .relaxed) }
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
        for number in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                TerminalRestore.restoreFromSignal()
                var defaultAction = sigaction()
                defaultAction.__sigaction_handler.sa_handler = SIG_DFL
                sigaction(signal, &defaultAction, nil)
                raise(signal)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = Int32(truncatingIfNeeded: SA_RESETHAND)
            sigaction(number, &action, nil)
        }
    }

    /// Async-signal-safe: tcsetattr and write only.
    static func restoreFromSignal() {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
        let reset: StaticString = "\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l\u{1B}[?1l\u{1B}>\r\n"
        _ = write(STDOUT_FILENO, reset.utf8Start, reset.utf8CodeUnitCount)
    }
}
