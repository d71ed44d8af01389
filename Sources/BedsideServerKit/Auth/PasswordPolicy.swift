/// The rules a new password must meet (DESIGN.md): 12 or more characters, at least one that is not a
/// letter, and not a common password, however it is dressed up (`P@ssw0rd2024!` is still "password").
public struct PasswordPolicy: Sendable {
    public static let minimumLength = 12

    public init() {}

    /// Why `password` is refused, in words for the person choosing it; nil when it is acceptable.
    public func problem(with password: String, email: String? = nil) -> String? {
        if password.count < Self.minimumLength {
            return "The password must have at least \(Self.minimumLength) characters."
        }
        if password.allSatisfy(\.isLetter) {
            return "The password must contain at least one character that is not a letter (a digit, a space or a symbol)."
        }
        if Set(password).count <= 2 {
            return "The password repeats the same characters; choose something less predictable."
        }
        let lowered = password.lowercased()
        if CommonPasswords.exact.contains(lowered) || CommonPasswords.isDressedUpCommon(lowered) {
            return "That password is too common; attackers try it first. Choose a phrase of several unrelated words."
        }
        if let local = email?.split(separator: "@").first.map({ String($0).lowercased() }), local.count >= 4,
            lowered.contains(local)
        {
            return "The password must not contain your e-mail name."
        }
        return nil
    }
}

/// Common passwords, from the top of public breach lists (the SecLists and NCSC "100k most used" lists)
/// that are 12 or more characters long, plus the base words that people decorate with digits and symbols.
enum CommonPasswords {
    static let exact: Set<String> = [
        "123456789012", "1234567890123", "12345678901234", "123456789123", "1234567891011", "password1234",
        "password12345", "password123456", "passwordpassword", "qwertyuiop12", "qwertyuiop123", "qwerty123456",
        "qwertyuiopasdf", "1q2w3e4r5t6y", "1qaz2wsx3edc", "1qaz2wsx3edc4rfv", "zaq12wsxcde3", "abcdefgh1234",
        "abcdefghijkl", "abcd1234abcd", "iloveyou1234", "letmein12345", "welcome12345", "administrator",
        "administrator1", "changeme1234", "trustno11234", "monkey123456", "dragon123456", "football1234",
        "baseball1234", "sunshine1234", "princess1234", "starwars1234", "superman1234", "michael12345",
        "1234qwerasdf", "qwer1234asdf", "asdfghjkl123", "asdfghjkl;'", "zxcvbnm12345", "q1w2e3r4t5y6",
        "a1b2c3d4e5f6", "111111111111", "000000000000", "123123123123", "121212121212", "987654321098",
        "098765432109", "112233445566", "qazwsxedcrfv", "passw0rd1234", "p@ssw0rd1234", "p@ssword1234",
        "welcome@1234", "admin@123456", "admin1234567", "adminadmin12", "test12345678", "testtesttest",
        "iloveyouiloveyou", "internet1234", "computer1234", "whatever1234", "unbelievable", "nightingale1",
        "correcthorsebatterystaple", "correct horse battery staple", "!@#$%^&*()_+", "!q2w3e4r5t6y",
    ]

    /// Words that, once digits, symbols and look-alike characters are removed, make a password common.
    static let baseWords: Set<String> = [
        "password", "passwort", "wachtwoord", "motdepasse", "contrasena", "qwerty", "qwertz", "azerty",
        "qwertyuiop", "asdfghjkl", "zxcvbnm", "abc", "abcdef", "abcdefgh", "iloveyou", "letmein", "welcome",
        "welkom", "willkommen", "monkey", "dragon", "football", "baseball", "soccer", "hockey", "sunshine",
        "princess", "master", "shadow", "superman", "batman", "starwars", "trustno", "admin", "administrator",
        "root", "login", "changeme", "secret", "geheim", "hello", "hallo", "freedom", "whatever", "michael",
        "jennifer", "jordan", "hunter", "charlie", "thomas", "daniel", "andrew", "summer", "winter", "spring",
        "autumn", "january", "february", "march", "april", "august", "september", "october", "november",
        "december", "london", "berlin", "amsterdam", "computer", "internet", "samsung", "google", "facebook",
        "bedside", "hospital", "doctor", "nurse", "patient", "health", "test", "tester", "testing", "guest",
        "user", "default", "pass", "ilovemy", "killer", "pokemon", "cheese", "chocolate", "cookie", "flower",
        "lovely", "loveme", "mustang", "ranger", "tigger", "buster", "ginger", "pepper", "maggie", "jessica",
    ]

    /// A password that is a common word (or nothing at all) wrapped in digits, symbols and leet-speak,
    /// or a keyboard or digit run.
    static func isDressedUpCommon(_ lowered: String) -> Bool {
        // Decorations go at the ends ("p@ssw0rd2024!"): look at the core without them, too.
        let core = String(lowered.drop { !$0.isLetter }.reversed().drop { !$0.isLetter }.reversed())
        func unLeetLetters(_ text: String) -> String {
            String(unLeet(text).filter(\.isLetter))
        }
        let letters = lowered.filter(\.isLetter)
        let rest = lowered.filter { !$0.isLetter && !$0.isWhitespace }
        if letters.count <= 3 && isRunOrRepeat(rest) { return true }
        for candidate in [String(letters), unLeetLetters(lowered), unLeetLetters(core)] {
            if baseWords.contains(candidate) { return true }
            if let word = repeatedUnit(of: candidate), baseWords.contains(word) { return true }
        }
        return false
    }

    private static func unLeet(_ lowered: String) -> String {
        String(lowered.map { character -> Character in
            switch character {
            case "0": "o"
            case "1", "!": "i"
            case "3": "e"
            case "4", "@": "a"
            case "5", "$": "s"
            case "7": "t"
            default: character
            }
        })
    }

    /// The shortest unit that `text` repeats, when it is a repetition.
    private static func repeatedUnit(of text: String) -> String? {
        let characters = Array(text)
        guard characters.count >= 2 else { return nil }
        for length in 1...(characters.count / 2) where characters.count % length == 0 {
            let unit = characters[0..<length]
            if stride(from: 0, to: characters.count, by: length).allSatisfy({ characters[$0..<$0 + length] == unit }) {
                return String(unit)
            }
        }
        return nil
    }

    /// Digits and symbols only: refuse runs (`123456789012`), repeats and keyboard rows.
    private static func isRunOrRepeat(_ text: String) -> Bool {
        let scalars = text.unicodeScalars.map { Int($0.value) }
        guard scalars.count >= 2 else { return true }
        let steps = Set(zip(scalars, scalars.dropFirst()).map { ($1 - $0 + 10) % 10 })
        if steps.count <= 2 { return true }
        return repeatedUnit(of: text) != nil || Set(text).count <= 4
    }
}
