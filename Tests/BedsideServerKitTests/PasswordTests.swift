import Foundation
import Testing

@testable import BedsideServerKit

@Suite("Passwords")
struct PasswordTests {
    let policy = PasswordPolicy()

    @Test(
        "common and weak passwords are refused, however dressed up",
        arguments: [
            "short-1", "onlylettersherex", "Password1234", "P@ssw0rd2024!", "123456789012", "qwertyuiop12", "aaaaaaaaaaaa",
            "!!!!!!!!!!!!1", "iloveyou2025", "Welcome12345!", "dragondragon1", "111122223333", "1234567890ab",
        ])
    func refused(_ password: String) {
        #expect(policy.problem(with: password) != nil, "\(password) should be refused")
    }

    @Test("good passwords and passphrases are accepted", arguments: ["lantern-orbit-meadow-42", "correct horse stapler 9", "Tr0mbone!Quiet"])
    func accepted(_ password: String) {
        #expect(policy.problem(with: password) == nil, "\(password)")
    }

    @Test("the e-mail name may not be the password")
    func containsEmail() {
        #expect(policy.problem(with: "johnsmith-2026", email: "johnsmith@example.org") != nil)
    }

    @Test("scrypt hashes verify, carry their parameters, and are salted")
    func hashing() throws {
        let hasher = PasswordHasher.testing
        let first = try hasher.hash("lantern-orbit-meadow-42")
        let second = try hasher.hash("lantern-orbit-meadow-42")
        #expect(first != second)
        #expect(first.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(hasher.verify("lantern-orbit-meadow-42", against: first))
        #expect(!hasher.verify("lantern-orbit-meadow-43", against: first))
        // Verification follows the stored parameters, not the hasher's.
        #expect(PasswordHasher.standard.verify("lantern-orbit-meadow-42", against: first))
        #expect(!hasher.verify("x", against: "garbage"))
    }

    @Test("an unknown name costs the same scrypt as a wrong password")
    func timingParity() throws {
        let hasher = PasswordHasher(logRounds: 13, blockSize: 8, parallelism: 1)
        let stored = try hasher.hash("lantern-orbit-meadow-42")
        func seconds(_ work: () -> Void) -> Double {
            let start = ContinuousClock.now
            work()
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        // Interleaved, so a burst of load from the tests running beside this one falls on both alike.
        var wrongSamples: [Double] = []
        var unknownSamples: [Double] = []
        for _ in 0..<9 {
            wrongSamples.append(seconds { _ = hasher.verify("wrong-password-1", against: stored) })
            unknownSamples.append(seconds { hasher.verifyAgainstNothing("wrong-password-1") })
        }
        let wrong = wrongSamples.sorted()[4]
        let unknown = unknownSamples.sorted()[4]
        #expect(unknown / wrong > 0.6 && unknown / wrong < 1.6, "wrong \(wrong)s, unknown \(unknown)s")
    }

    @Test("login codes are six digits, tokens 256-bit and unique")
    func secrets() {
        let codes = (0..<200).map { _ in Secrets.oneTimeCode() }
        #expect(codes.allSatisfy { $0.count == 6 && $0.allSatisfy(\.isNumber) })
        let tokens = Set((0..<200).map { _ in Secrets.randomToken() })
        #expect(tokens.count == 200)
        #expect(tokens.allSatisfy { $0.count == 43 })
    }
}
