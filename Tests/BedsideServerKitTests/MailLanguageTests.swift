import BedsideCore
import Foundation
import Testing

@testable import BedsideServerKit

@Suite("Login e-mail in the patient's language")
struct MailLanguageTests {
    @Test("Accept-Language: the best supported language by quality, then by order; nothing supported or absurd gives none", arguments: [
        ("nl-NL", MailLanguage.nl), ("de-DE,de;q=0.9,en;q=0.8", .de), ("fr-FR, en;q=0.5, nl;q=0.7", .nl), ("en", .en),
        ("en;q=0.2, de", .de), ("*", nil), ("fr, es", nil), ("nl;q=0", nil), ("nl;q=nan, de;q=0.1", .de), ("", nil),
    ] as [(String, MailLanguage?)])
    func acceptLanguage(_ header: String, _ expected: MailLanguage?) {
        #expect(MailLanguage.preferred(acceptLanguage: header) == expected)
    }

    @Test("an absent or huge header asks for nothing")
    func absurdHeaders() {
        #expect(MailLanguage.preferred(acceptLanguage: nil) == nil)
        #expect(MailLanguage.preferred(acceptLanguage: String(repeating: "nl,", count: 10_000)) == nil)
    }

    @Test("every language's mail carries the code where any reader finds it; a non-ASCII subject is an encoded word")
    func codeInEveryLanguage() {
        for language in MailLanguage.allCases {
            let mail = language.loginCode(name: "Ruth", code: "042917", minutes: 10)
            #expect(MailMessage.loginCode(in: mail.body) == "042917", "\(language)")
            #expect(mail.body.contains("10"))
            let text = MailMessage(to: "r@example.org", subject: mail.subject, body: mail.body)
                .rfc5322(from: "b@example.org", date: Date(timeIntervalSince1970: 0), messageID: "m")
            let subjectLine = text.split(separator: "\r\n").first { $0.hasPrefix("Subject: ") } ?? ""
            #expect(subjectLine.utf8.allSatisfy { $0 < 0x80 }, "\(subjectLine)")
        }
        #expect(MailMessage.headerText("Ihr Anmeldecode für Bedside") == "=?utf-8?B?" + Data("Ihr Anmeldecode für Bedside".utf8).base64EncodedString() + "?=")
    }

    @Test("the mail is in the language the client asked in, else the account's, else English")
    func languageChosen() async throws {
        try await withServer { server in
            _ = try await server.administration.addUser(
                email: "anke@example.org", role: .patient, password: TestServer.password, name: "Anke", language: "de")
            try await server.addPatient("piet@example.org")
            func mail(_ email: String, acceptLanguage: String?) async throws -> String {
                let body: JSONValue = ["username": .string(email), "password": .string(TestServer.password)]
                let answer = try await server.request(
                    "POST", "/auth/login", json: body, headers: acceptLanguage.map { [("Accept-Language", $0)] } ?? [])
                #expect(answer.status == 202)
                let folder = server.directory.appendingPathComponent("mail/new")
                let newest = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().last ?? ""
                return try String(contentsOf: folder.appendingPathComponent(newest), encoding: .utf8)
            }
            #expect(try await mail("piet@example.org", acceptLanguage: "nl-NL,nl;q=0.9").contains("Uw inlogcode voor Bedside is: "))
            #expect(try await mail("anke@example.org", acceptLanguage: nil).contains("Ihr Anmeldecode für Bedside lautet: "))
            #expect(try await mail("anke@example.org", acceptLanguage: "en").contains("Your Bedside login code is: "))
            #expect(try await mail("piet@example.org", acceptLanguage: "fr").contains("Your Bedside login code is: "))
            #expect(try server.latestCode(for: "anke@example.org").count == 6)
        }
        await #expect(throws: AdministrationError.self) {
            try await withServer { server in
                _ = try await server.administration.addUser(email: "x@example.org", role: .patient, password: TestServer.password, name: "X", language: "fr")
            }
        }
    }
}
