import ArgumentParser
import BedsideConsole

/// Reads secrets from the terminal without echo, or line by line from standard input.
enum PasswordReader {
    static func readLine(prompt: String, secret: Bool, fromStandardInput: Bool) throws -> String {
        let what = prompt.lowercased().hasPrefix("code") ? "code" : "password"
        do {
            return try SecretPrompt.readLine(prompt: prompt, what: what, secret: secret, fromStandardInput: fromStandardInput)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
