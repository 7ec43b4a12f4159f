import DeskEngine
import EventLog
import Foundation
@testable import Projections
@testable import SupportDesk
import Testing

@Suite("Contacts search index")
struct ContactSearchTests {
    func contact(_ id: ContactId, _ name: String, _ emails: [String] = [], mergedInto: ContactId? = nil) -> ContactState {
        ContactState(id: id, name: name, emails: emails, phones: [], organisation: nil, language: "en", automatic: false, mergedInto: mergedInto)
    }

    func index(_ contacts: [ContactState]) -> ContactSearchIndex {
        var i = ContactSearchIndex()
        for c in contacts { i.set(c.id, ContactSearchIndex.text(of: c)) }
        return i
    }

    func find(_ i: ContactSearchIndex, _ q: String, limit: Int = 50) -> [ContactId] {
        i.search(ContactSearchIndex.fold(q), limit: limit).ids
    }

    @Test("any part of a name or address, in any case, Cyrillic included; never across two fields")
    func matching() {
        let i = index([contact("c1", "Иван Петров", ["Ivan@Example.com"]), contact("c2", "Anna", ["anna@mail.ru"]),
                       contact("c3", "ab", ["cd@x.org"])])
        #expect(find(i, "иван") == ["c1"])
        #expect(find(i, "ПЕТР") == ["c1"])
        #expect(find(i, "example.COM") == ["c1"])
        #expect(find(i, "anna") == ["c2"])
        #expect(find(i, ".") == ["c1", "c2", "c3"])
        #expect(find(i, "bcd").isEmpty, "the name's end and the address's start are separate fields")
        #expect(find(i, "annaivan").isEmpty, "records are separate")
        #expect(find(i, "zzz").isEmpty)
        #expect(find(i, "").isEmpty)
        // Composed and decomposed forms of the same letter find each other.
        let j = index([contact("c9", "Seme\u{301}nova")])
        #expect(find(j, "semé") == ["c9"])
    }

    @Test("a changed contact is found by its new text only; a merged one is not found")
    func changes() {
        var i = index([contact("c1", "Olga"), contact("c2", "Boris")])
        i.set("c1", ContactSearchIndex.text(of: contact("c1", "Olga Smirnova", ["olga@desk.example"])))
        #expect(find(i, "smirn") == ["c1"])
        i.set("c1", ContactSearchIndex.text(of: contact("c1", "Olga Ivanova")))
        #expect(find(i, "smirn").isEmpty)
        #expect(find(i, "ivanova") == ["c1"])
        i.set("c2", ContactSearchIndex.text(of: contact("c2", "Boris", mergedInto: "c1")))
        #expect(find(i, "boris").isEmpty)
        #expect(i.count == 1)
    }

    @Test("the first `limit` matches by id, and the count of all")
    func limitAndTotal() {
        let i = index((0..<500).shuffled().map { contact(String(format: "c%04d", $0), "Client \($0)") })
        let r = i.search("client", limit: 7)
        #expect(r.total == 500)
        #expect(r.ids == (0..<7).map { String(format: "c%04d", $0) })
        #expect(i.search("client 49", limit: 50).ids == ["c0049", "c0490", "c0491", "c0492", "c0493", "c0494", "c0495", "c0496", "c0497", "c0498", "c0499"])
    }

    @Test("random changes and searches agree with a plain scan, through the buffer's compaction")
    func againstPlainScan() {
        var rng = SplitMix64(seed: 7)
        let syllables = ["ан", "на", "ив", "ол", "га", "pe", "tr", "ov", "ma", "ri", "a", "x"]
        func word() -> String { (0..<Int.random(in: 1...4, using: &rng)).map { _ in syllables.randomElement(using: &rng)! }.joined() }
        var model: [ContactId: ContactState] = [:]
        var i = ContactSearchIndex()
        for round in 0..<6_000 {
            let id = "c\(Int.random(in: 0..<400, using: &rng))"
            let c = contact(id, word().capitalized + " " + word().uppercased(), (0..<Int.random(in: 0...2, using: &rng)).map { _ in word() + "@" + word() + ".ru" },
                            mergedInto: Int.random(in: 0..<10, using: &rng) == 0 ? "c0" : nil)
            model[id] = c
            i.set(id, ContactSearchIndex.text(of: c))
            if round % 100 == 0 {
                for q in [word(), word().uppercased(), "@", String(word().prefix(1))] {
                    let f = ContactSearchIndex.fold(q)
                    let all = model.values.filter { c in
                        c.mergedInto == nil && (ContactSearchIndex.fold(c.name).contains(f) || c.emails.contains { ContactSearchIndex.fold($0).contains(f) })
                    }.map(\.id).sorted()
                    let r = i.search(f, limit: 20)
                    #expect(r.total == all.count, "\(q)")
                    #expect(r.ids == Array(all.prefix(20)), "\(q)")
                }
            }
        }
        #expect(i.count == model.values.filter { $0.mergedInto == nil }.count)
    }

    @Test("the view's search, live and loaded from its rows, follows renames, new addresses and merges")
    func throughTheView() async throws {
        try await withTempFolder { url in
            let store = try LMDBEventStore(directory: url)
            defer { store.close() }
            let live = DeskView()
            let runner = ProjectionRunner(store: store, projections: [live])
            try await runner.prepare()
            runner.start()
            let processor = try await generated(store, tickets: 60, seed: 5)
            func run(_ body: CommandBody) async throws { _ = try await processor.execute(Command(actor: .staff("olga"), body)) }
            try await run(.createContact(id: "zz1", name: "Зинаида Квасова", emails: ["zk@kvas.example"], phones: [], organisation: nil, language: nil))
            try await run(.createContact(id: "zz2", name: "Зинаида К.", emails: ["zina@other.example"], phones: [], organisation: nil, language: nil))
            try await run(.changeContact(id: "zz1", name: "Зинаида Квасова-Лимонова", language: nil, organisation: nil))
            try await run(.attachEmail(contact: "zz1", email: "limon@kvas.example"))
            try await run(.mergeContacts(duplicate: "zz2", into: "zz1"))
            try await runner.waitUntil(store.committedHead)
            runner.stop()
            let loaded = DeskView()
            try await ProjectionRunner(store: store, projections: [loaded]).prepare()
            for view in [live, loaded] {
                #expect(view.searchContacts("лимонова").map(\.id) == ["zz1"])
                #expect(view.searchContacts("ЗИНАИДА").map(\.id) == ["zz1"], "the merged duplicate is not listed")
                #expect(view.searchContacts("limon@").map(\.id) == ["zz1"])
                #expect(view.searchContacts("other.example").map(\.id) == ["zz1"], "the duplicate's address now leads to the survivor")
                // Every generated contact is found by its own name.
                let contacts = view.read { $0.state.contacts.values.filter { $0.mergedInto == nil } }
                #expect(contacts.count > 5)
                for c in contacts { #expect(view.searchContacts(c.name, limit: 1000).contains { $0.id == c.id }, "\(c.name)") }
            }
        }
    }
}
