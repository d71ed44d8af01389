/// The languages the server writes e-mail in (the client's: English, Dutch, German).
public enum MailLanguage: String, Sendable, CaseIterable {
    case en, nl, de

    /// The first supported language of an `Accept-Language` header, by quality (`nl-NL, en;q=0.5`);
    /// nil when none is supported or the header is absent or absurd.
    public static func preferred(acceptLanguage header: String?) -> MailLanguage? {
        guard let header, header.utf8.count <= 1024 else { return nil }
        var ranked: [(language: MailLanguage, quality: Double, position: Int)] = []
        for (position, part) in header.split(separator: ",").prefix(32).enumerated() {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first?.lowercased(), let primary = tag.split(separator: "-").first,
                let language = MailLanguage(rawValue: String(primary))
            else { continue }
            var quality = 1.0
            for parameter in pieces.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)).flatMap { $0.isFinite ? min(max($0, 0), 1) : nil } ?? 0
            }
            if quality > 0 { ranked.append((language, quality, position)) }
        }
        return ranked.min { ($0.quality, -$0.position) > ($1.quality, -$1.position) }?.language
    }

    /// The login code e-mail.
    func loginCode(name: String, code: String, minutes: Int64) -> (subject: String, body: String) {
        switch self {
        case .en:
            return (
                "Your Bedside login code",
                """
                Hello \(name),

                Your Bedside login code is: \(code)

                It is valid for \(minutes) minutes and can be used once. If you did not try to log in,
                someone may know your password: change it and tell your care team.
                """
            )
        case .nl:
            return (
                "Uw inlogcode voor Bedside",
                """
                Hallo \(name),

                Uw inlogcode voor Bedside is: \(code)

                De code is \(minutes) minuten geldig en kan één keer worden gebruikt. Probeerde u niet in te
                loggen? Dan kent iemand misschien uw wachtwoord: wijzig het en laat het uw zorgteam weten.
                """
            )
        case .de:
            return (
                "Ihr Anmeldecode für Bedside",
                """
                Guten Tag \(name),

                Ihr Anmeldecode für Bedside lautet: \(code)

                Er ist \(minutes) Minuten gültig und kann einmal verwendet werden. Wenn Sie sich nicht anmelden
                wollten, kennt vielleicht jemand Ihr Passwort: Ändern Sie es und informieren Sie Ihr Behandlungsteam.
                """
            )
        }
    }
}
