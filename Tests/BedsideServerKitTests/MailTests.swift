import Foundation
import Testing

@testable import BedsideServerKit

@Suite("Mail")
struct MailTests {
    @Test("messages are RFC 5322 with CRLF, and lines are kept as written (libcurl dot-stuffs on the wire)")
    func messageText() {
        let message = MailMessage(to: "pat@example.org", subject: "Your Bedside login code", body: "Code: 123456\n.hidden line\nend")
        let text = message.rfc5322(from: "Bedside <no-reply@example.org>", date: Date(timeIntervalSince1970: 0), messageID: "m1")
        #expect(text.hasPrefix("From: Bedside <no-reply@example.org>\r\nTo: pat@example.org\r\nSubject: Your Bedside login code\r\n"))
        #expect(text.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        #expect(text.hasSuffix("\r\n\r\nCode: 123456\r\n.hidden line\r\nend\r\n"))
        #expect(SMTPMailer.address(of: "Bedside <no-reply@example.org>") == "no-reply@example.org")
        #expect(SMTPMailer.address(of: "plain@example.org") == "plain@example.org")
    }

    @Test("the maildir gets whole files only, private to the server")
    func maildir() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maildir-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await MaildirMailer(directory: directory).send(MailMessage(to: "a@example.org", subject: "s", body: "b"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("new").path)
        #expect(files.count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("tmp").path).isEmpty)
        let mode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("new/\(files[0])").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
