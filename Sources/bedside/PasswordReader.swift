import ArgumentParser
import Foundation

/// Reads secrets from the terminal without echo, or line by line from standard input.
enum PasswordReader {
    static func readLine(prompt: String, secret: Bool, fromStandardInput: Bool) throws -> String {
        if fromStandardInput {
            guard let line = Swift.readLine(strippingNewline: true) else {
                throw ValidationError("Standard input ended before the \(prompt.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ": ")))")
            }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw ValidationError("No terminal to ask for it: use --password-stdin.")
        }
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
