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

    /// The alerts an administrator gets about unusual activity (`UnusualActivity`), in one message. Each
    /// detail is the rule's own sentence (English, as in the audit trail).
    func unusualActivity(name: String, alerts: [(title: String, detail: String)]) -> (subject: String, body: String) {
        let list = alerts.prefix(20).map { "- \($0.title):\n  \($0.detail)" }.joined(separator: "\n\n")
            + (alerts.count > 20 ? "\n\n(+\(alerts.count - 20))" : "")
        let what = alerts.count == 1 ? alerts[0].title : nil
        switch self {
        case .en:
            return (
                "Bedside: unusual activity: " + (what ?? "\(alerts.count) alerts"),
                """
                Hello \(name),

                Bedside noticed activity that is unusual for the one doing it:

                \(list)

                It may be harmless. Look at it with:  bedside-server audit alerts
                and the audit trail:  bedside-server audit show
                """
            )
        case .nl:
            return (
                "Bedside: ongebruikelijke activiteit: " + (what ?? "\(alerts.count) meldingen"),
                """
                Hallo \(name),

                Bedside zag activiteit die ongebruikelijk is voor wie haar uitvoert:

                \(list)

                Het kan onschuldig zijn. Bekijk het met:  bedside-server audit alerts
                en het auditspoor:  bedside-server audit show
                """
            )
        case .de:
            return (
                "Bedside: ungewöhnliche Aktivität: " + (what ?? "\(alerts.count) Meldungen"),
                """
                Hallo \(name),

                Bedside hat eine Aktivität bemerkt, die für den Handelnden ungewöhnlich ist:

                \(list)

                Sie kann harmlos sein. Prüfen Sie sie mit:  bedside-server audit alerts
                und dem Audit-Protokoll:  bedside-server audit show
                """
            )
        }
    }

    /// The invitation a patient enrolled by their care organisation gets: the code, and how to use it.
    func invitation(name: String, code: String, email: String, days: Int64) -> (subject: String, body: String) {
        switch self {
        case .en:
            return (
                "You are invited to Bedside",
                """
                Hello \(name),

                Your care team has set up Bedside for you, to send them your measurements from home.

                Your enrolment code is: \(code)

                To start, run:  bedside enrol --server <the address your care team gave you> --user \(email)
                and type this code, then choose your own password. The code is valid for \(days) days and
                can be used once. If you did not expect this, tell your care team.
                """
            )
        case .nl:
            return (
                "Uw uitnodiging voor Bedside",
                """
                Hallo \(name),

                Uw zorgteam heeft Bedside voor u ingericht, zodat u uw metingen van thuis kunt doorgeven.

                Uw aanmeldcode is: \(code)

                Start met:  bedside enrol --server <het adres van uw zorgteam> --user \(email)
                en typ deze code; kies daarna uw eigen wachtwoord. De code is \(days) dagen geldig en kan
                één keer worden gebruikt. Verwachtte u dit niet? Laat het uw zorgteam weten.
                """
            )
        case .de:
            return (
                "Ihre Einladung zu Bedside",
                """
                Guten Tag \(name),

                Ihr Behandlungsteam hat Bedside für Sie eingerichtet, damit Sie Ihre Messwerte von zu Hause senden.

                Ihr Registrierungscode lautet: \(code)

                Starten Sie mit:  bedside enrol --server <die Adresse Ihres Behandlungsteams> --user \(email)
                und geben Sie diesen Code ein; wählen Sie dann Ihr eigenes Passwort. Der Code ist \(days) Tage
                gültig und kann einmal verwendet werden. Wenn Sie dies nicht erwartet haben, informieren Sie Ihr Team.
                """
            )
        }
    }
}
