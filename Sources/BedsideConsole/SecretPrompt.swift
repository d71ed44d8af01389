import Foundation

/// Reading secrets and answers on the command line, shared by `bedside` and `bedside-server`.
public enum SecretPrompt {
    public enum Failure: Error, CustomStringConvertible {
        case standardInputEnded(String)
        case noTerminal

        public var description: String {
            switch self {
            case .standardInputEnded(let what): "Standard input ended before the \(what)."
            case .noTerminal: "No terminal to ask on: use --password-stdin."
            }
        }
    }

    /// One line: from standard input when `fromStandardInput`, else asked on the terminal
    /// (without echo when `secret`). `what` names it in errors ("password", "code").
    public static func readLine(prompt: String, what: String, secret: Bool, fromStandardInput: Bool) throws(Failure) -> String {
        if fromStandardInput {
            guard let line = Swift.readLine(strippingNewline: true) else { throw .standardInputEnded(what) }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else { throw .noTerminal }
        FileHandle.standardError.write(Data(prompt.utf8))
        guard secret else { return Swift.readLine(strippingNewline: true) ?? "" }
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &original)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return Swift.readLine(strippingNewline: true) ?? ""
    }
}
