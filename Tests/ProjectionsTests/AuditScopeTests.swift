import DeskEngine
import EventLog
import Foundation
@testable import Projections
import SupportDesk
import Testing

@Suite("Audits read only the streams that matter")
struct AuditScopeTests {
    @Test("visibility and as-of replays from the scoped streams equal a scan of the whole log, through org moves, merges and setting changes")
    func scopedEqualsFullScan() async throws {
        let store = MemoryEventStore()
        let processor = try await generated(store, tickets: 150, seed: 3)
        func run(_ actor: Party, _ body: CommandBody) async throws { _ = try await processor.execute(Command(actor: actor, body)) }
        // History that moves people around after the tickets were written: a contact changes
        // organisation, another is merged, portal access and the sharing setting flip.
        try await run(.staff("olga"), .changeContact(id: "c1-1", name: nil, language: nil, organisation: "org2"))
        try await run(.staff("olga"), .mergeContacts(duplicate: "c2-2", into: "c0-0"))
        try await run(.staff("olga"), .setPortalAccess(contact: "c2-1", granted: true))
        try await run(.staff("olga"), .setVisibility(VisibilitySettings(onlyNotified: false, organisationSharing: true)))
        try await run(.staff("olga"), .setPortalAccess(contact: "c1-1", granted: true))
        try await run(.staff("olga"), .setVisibility(VisibilitySettings(onlyNotified: true, organisationSharing: false)))
        let view = DeskView()
        let runner = ProjectionRunner(store: store, projections: [view])
        try await runner.prepare()
        let tickets = view.read { v in v.tickets.values.filter { ["org0", "org1", "org2"].contains($0.organisation ?? "") }.map(\.number).sorted() }
        #expect(tickets.count > 20)
        var contactsSeen = 0
        for n in tickets.prefix(40) {
            let scope = try #require(view.auditScope(n))
            #expect(scope.contacts.count < view.read { $0.state.contacts.count }, "the scope is not everyone")
            let scoped = try Audit.visibility(store, ticket: n, scope: scope)
            let full = try Audit.visibility(store, ticket: n)
            #expect(scoped == full, "ticket \(n)")
            contactsSeen += full.reduce(0) { $0 + $1.contacts.count }
            let end = view.ticketDetail(n, now: Date())!.ticket.openedAt
            for moment in [end.addingTimeInterval(60), end.addingTimeInterval(86_400 * 3), Date()] {
                #expect(try Audit.replay(store, ticket: n, asOf: moment, scope: scope) == Audit.replay(store, ticket: n, asOf: moment), "ticket \(n) at \(moment)")
            }
        }
        #expect(contactsSeen > 0, "some comments were visible to some contacts")
        // The rows keep former organisations: a view loaded from them scopes the same.
        let loaded = DeskView()
        try await ProjectionRunner(store: store, projections: [loaded]).prepare()
        for n in tickets.prefix(40) { #expect(loaded.auditScope(n) == view.auditScope(n)) }
        #expect(view.read { $0.everMembers["org1"]?.contains("c1-1") == true && $0.everMembers["org2"]?.contains("c1-1") == true })
    }
}
