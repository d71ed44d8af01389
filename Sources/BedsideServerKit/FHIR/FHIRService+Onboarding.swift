import BedsideCore
import Foundation

/// Onboarding over FHIR: what an EMR's backend client creates to enrol a patient into monitoring.
extension FHIRService {
    /// The account a new Patient with an e-mail gets: a patient who can log in once enrolled (no
    /// password until then), named as the Patient is. nil for a Patient without an e-mail address.
    static func invitedAccount(for patient: JSONValue, patientID: String, now: Int64) throws(ServerError) -> Account? {
        let telecom = patient["telecom"]?.arrayValue ?? []
        guard let index = telecom.firstIndex(where: { $0["system"]?.stringValue == "email" }),
            let raw = telecom[index]["value"]?.stringValue
        else { return nil }
        let email = AuthService.normalizedEmail(raw)
        guard ServerAdministration.isPlausibleEmail(email) else {
            throw .invalid(OperationOutcome(
                code: "value", diagnostics: "'\(raw.prefix(80))' is not an e-mail address the invitation can go to.",
                expression: "Patient.telecom[\(index)].value"))
        }
        return Account(
            id: UUID().uuidString.lowercased(), email: email, role: .patient, passwordHash: "", displayName: displayName(of: patient),
            patientID: patientID, createdAt: now, language: language(of: patient))
    }

    /// The name a Patient is shown by: its text, else given names and family.
    static func displayName(of patient: JSONValue) -> String {
        for name in patient["name"]?.arrayValue ?? [] {
            if let text = name["text"]?.stringValue?.trimmingCharacters(in: .whitespaces), !text.isEmpty { return String(text.prefix(200)) }
            let parts = (name["given"]?.arrayValue ?? []).compactMap(\.stringValue) + [name["family"]?.stringValue].compactMap { $0 }
            if !parts.isEmpty { return String(parts.joined(separator: " ").prefix(200)) }
        }
        return "Patient"
    }

    /// The invitation's language: the Patient's preferred communication language, if Bedside writes mail in it.
    static func language(of patient: JSONValue) -> String? {
        let communications = patient["communication"]?.arrayValue ?? []
        let ordered = communications.filter { $0["preferred"]?.boolValue == true } + communications
        for communication in ordered {
            for coding in communication["language"]?["coding"]?.arrayValue ?? [] {
                let code = (coding["code"]?.stringValue ?? "").lowercased().prefix(2)
                if MailLanguage(rawValue: String(code)) != nil { return String(code) }
            }
        }
        return nil
    }

    /// Inside the write that stored a new Patient: its account, unless another account has the address.
    static func insertInvited(_ account: Account, db: any StoreWriting) throws {
        if try db.account(email: account.email) != nil {
            throw ServerError.invalid(OperationOutcome(
                code: "duplicate", diagnostics: "An account with the e-mail address \(account.email) exists already.",
                expression: "Patient.telecom"))
        }
        try db.insert(account)
    }
}
