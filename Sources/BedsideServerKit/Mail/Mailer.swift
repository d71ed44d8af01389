import Foundation

/// A message the server sends to a person: today only the login code.
public struct MailMessage: Sendable, Equatable {
    public var to: String
    public var subject: String
    public var body: String

    public init(to: String, subject: String, body: String) {
        self.to = to
        self.subject = subject
        self.body = body
    }

    /// A header value as RFC 2047 wants it: ASCII as it is, anything else as a UTF-8 encoded word.
    static func headerText(_ text: String) -> String {
        text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) ? text : "=?utf-8?B?" + Data(text.utf8).base64EncodedString() + "?="
    }

    /// The six-digit code of a login-code e-mail, in any of its languages: the line that ends with
    /// `: ` and the code.
    public static func loginCode(in text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.count > 8, trimmed.dropLast(6).hasSuffix(": ") else { continue }
            let code = trimmed.suffix(6)
            if code.allSatisfy({ $0.isASCII && $0.isNumber }) { return String(code) }
        }
        return nil
    }

    /// The enrolment code of an invitation, in any of its languages: a line ending in `: XXXX-XXXX-XXXX`.
    public static func enrolmentCode(in text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.count > 16, trimmed.dropLast(14).hasSuffix(": ") else { continue }
            let code = trimmed.suffix(14)
            let groups = code.split(separator: "-", omittingEmptySubsequences: false)
            if groups.count == 3, groups.allSatisfy({ $0.count == 4 && $0.allSatisfy { Invitations.alphabet.contains($0) } }) { return String(code) }
        }
        return nil
    }

    /// RFC 5322 text, CRLF line ends, with a header the dev tooling can read.
    func rfc5322(from sender: String, date: Date, messageID: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let lines = [
            "From: \(sender)",
            "To: \(to)",
            "Subject: \(Self.headerText(subject))",
            "Date: \(formatter.string(from: date))",
            "Message-ID: <\(messageID)@bedside>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
        ] + body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // No dot-stuffing here: libcurl does it on the wire, and the maildir copy must stay as written.
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

public enum MailError: Error, CustomStringConvertible {
    case deliveryFailed(String)

    public var description: String {
        switch self {
        case .deliveryFailed(let reason): "the e-mail could not be sent: \(reason)"
        }
    }
}

/// Delivers mail. The dev mailer writes files; the SMTP mailer talks to a real relay.
public protocol Mailer: Sendable {
    func send(_ message: MailMessage) async throws
}

/// Writes each message as a file in a maildir (`<data-dir>/mail/new/`), for development and tests:
/// written under `tmp/` and renamed into `new/`, so a reader never sees half a message.
public struct MaildirMailer: Mailer {
    public let directory: URL
    public let sender: String

    public init(directory: URL, sender: String = "Bedside <no-reply@bedside.invalid>") {
        self.directory = directory
        self.sender = sender
    }

    public func send(_ message: MailMessage) async throws {
        let fileManager = FileManager.default
        for sub in ["tmp", "new", "cur"] {
            try fileManager.createDirectory(
                at: directory.appendingPathComponent(sub), withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        }
        let unique = "\(Int64(Date().timeIntervalSince1970 * 1000)).\(UUID().uuidString.lowercased()).bedside"
        let text = message.rfc5322(from: sender, date: Date(), messageID: unique)
        let temporary = directory.appendingPathComponent("tmp").appendingPathComponent(unique)
        let final = directory.appendingPathComponent("new").appendingPathComponent(unique)
        guard fileManager.createFile(atPath: temporary.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw MailError.deliveryFailed("cannot write \(temporary.path)") }
        try fileManager.moveItem(at: temporary, to: final)
    }

    /// The login code in the newest message to `email`, for the demo and for tests that log in.
    public func latestLoginCode(to email: String) -> String? {
        latest(to: email, MailMessage.loginCode(in:))
    }

    /// The newest enrolment code (an invitation) mailed to `email`, if any.
    public func latestEnrolmentCode(to email: String) -> String? {
        latest(to: email, MailMessage.enrolmentCode(in:))
    }

    private func latest(to email: String, _ code: (String) -> String?) -> String? {
        let folder = directory.appendingPathComponent("new")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()) ?? []
        for file in files.reversed() {
            guard let text = try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8), text.contains("To: \(email)\r\n"),
                let found = code(text)
            else { continue }
            return found
        }
        return nil
    }
}
