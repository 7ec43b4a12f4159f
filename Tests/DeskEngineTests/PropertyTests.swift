import BusinessTime
import EventLog
import Foundation
import SupportDesk
import Testing
@testable import DeskEngine

/// Random command sequences, valid and invalid, from random actors.
final class RandomCommands {
    var rng: SplitMix64
    let staffIds: [StaffId] = ["admin", "boss", "s1", "s2", "s3", "dev", "aud", "ghost"]
    let contactIds: [ContactId] = ["c1", "c2", "c3", "c4", "auto-5", "auto-6", "auto-7", "x1", "x2", "nobody"]
    let subjects = ["Не работает импорт", "Invoice question", "Login fails", "Ошибка 500", "Export to CSV"]
    let texts = ["Добрый день! Проверили.", "Internal: who knows this client?", "Thanks!", "Ещё вопрос: как выгрузить отчёт?",
                 "See https://docs.example/1 ✓", "multi\nline\ttext \"quoted\""]
    let attachment = AttachmentRef(sha256: String(repeating: "ab", count: 32), filename: "shot.png", contentType: "image/png", size: 1234)

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    func pick<T>(_ a: [T]) -> T { a[rng.below(a.count)] }
    func chance(_ p: Double) -> Bool { rng.chance(p) }
    func maybe<T>(_ p: Double = 0.5, _ v: @autoclosure () -> T) -> T? { chance(p) ? v() : nil }

    func staffActor() -> Party {
        chance(0.85) ? .staff(pick(["boss", "s1", "s2", "s1", "admin", "dev", "s3"]))
            : pick([.staff("aud"), .staff("ghost"), .contact("c1"), .system("mail")])
    }

    func clientActor() -> Party {
        chance(0.85) ? .contact(pick(["c1", "c2", "c3", "c4", "auto-5", "auto-6", "x1"]))
            : pick([.staff("s1"), .staff("aud"), .contact("nobody"), .system("mail")])
    }

    func anyActor() -> Party { chance(0.6) ? staffActor() : clientActor() }

    func party() -> Party {
        chance(0.6) ? .staff(pick(staffIds)) : chance(0.9) ? .contact(pick(contactIds)) : .system("mail")
    }

    func ticket(_ last: TicketNumber) -> TicketNumber {
        if last > 0, chance(0.9) { return 1 + rng.below(last) }
        return pick([0, -1, last + 1, last + 7])
    }

    func email() -> String {
        pick(["c1@o1.example", "C2@O1.example", "new\(rng.below(4))@o1.example", "z\(rng.below(4))@else.example",
              "not-an-email", "x@y", " spaced@o2.example "])
    }

    func phone() -> String {
        pick(["+7 900 111-22-33", "+7 900 555 00 0\(rng.below(3))", "12", "+44 20 7946 0000", "8 (800) 2000", "+1 555 01\(rng.below(100))"])
    }

    func date(_ now: Date) -> Date { now.addingTimeInterval(Double(rng.below(4 * 86_400)) - 3600) }

    func classification() -> Classification {
        Classification(type: maybe(0.4, pick(TicketType.allCases)), firstLine: maybe(0.3, pick(FirstLineCategory.allCases)),
                       direction: maybe(0.3, pick(["product", "billing"])), directionType: maybe(0.3, pick(["import", "export"])),
                       complexity: maybe(0.3, rng.below(7)), criticality: maybe(0.3, pick(Criticality.allCases)),
                       category: maybe(0.2, "general"), plannedMinutes: maybe(0.2, pick([30, -5, 200_000])),
                       expectedDate: maybe(0.2, pick([LocalDate(year: 2026, month: 4, day: 1), LocalDate(year: 2026, month: 2, day: 30)])))
    }

    /// Someone plausible for ticket `n` most of the time: its client, or its responsible.
    func clientFor(_ n: TicketNumber, _ state: DeskState) -> Party {
        if let t = state.tickets[n], chance(0.6) { return .contact(t.contact) }
        return clientActor()
    }

    func staffFor(_ n: TicketNumber, _ state: DeskState) -> Party {
        if let r = state.tickets[n]?.responsible, chance(0.5) { return .staff(r) }
        return staffActor()
    }

    func command(last: TicketNumber, now: Date, state: DeskState) -> Command {
        let n = ticket(last)
        switch rng.below(40) {
        case 0..<6:
            var actor: Party
            var ref: ContactRef?
            switch rng.below(6) {
            case 0: actor = clientActor(); ref = nil
            case 1: actor = clientActor(); ref = .id(pick(contactIds))
            case 2: actor = .system("mail"); ref = .email(email(), name: maybe(0.3, "Имя Фамилия"))
            case 3: actor = staffActor(); ref = .phone(phone(), name: nil)
            case 4: actor = staffActor(); ref = .email(email(), name: nil)
            default: actor = staffActor(); ref = maybe(0.9, .id(pick(contactIds)))
            }
            let open = OpenTicket(channel: pick(Channel.allCases), subject: chance(0.05) ? "  " : pick(subjects),
                                  body: pick(texts), contact: ref, organisation: maybe(0.15, pick(["o1", "o2", "nope"])),
                                  language: maybe(0.2, "de"), premium: chance(0.3), attachments: chance(0.1) ? [attachment] : [],
                                  externalId: maybe(0.3, "<m\(rng.below(1000))@mail.example>"))
            return Command(actor: actor, .openTicket(open))
        case 6..<10:
            return Command(actor: staffActor(), .acceptTicket(ticket: n))
        case 10..<15:
            let isInternal = chance(0.3)
            var notify: [Party]?
            if chance(0.4) { notify = (0..<rng.below(4)).map { _ in party() } }
            return Command(actor: chance(0.5) ? staffFor(n, state) : clientFor(n, state), .comment(ticket: n, text: chance(0.05) ? "" : pick(texts), internal: isInternal, notify: notify,
                                                       attachments: chance(0.1) ? [attachment] : [], channel: maybe(0.2, .email),
                                                       externalId: maybe(0.1, "<r\(rng.below(100))@mail.example>")))
        case 15..<17:
            return Command(actor: staffFor(n, state), .changeStatus(ticket: n, to: pick(TicketStatus.allCases), reason: maybe(0.3, "why not"),
                                                              until: maybe(0.5, date(now))))
        case 17..<19:
            let evaluation = maybe(0.6, AnswerEvaluation(kind: rng.below(7), volume: pick(AnswerVolume.allCases), links: rng.below(3),
                                                         screenshots: chance(0.05) ? 5000 : rng.below(3), help: rng.below(5)))
            return Command(actor: staffFor(n, state), .close(ticket: n, evaluation: evaluation, reason: maybe(0.2, "done")))
        case 19:
            return Command(actor: staffActor(), .classify(ticket: n, classification()))
        case 20:
            return Command(actor: staffActor(), .changeLevel(ticket: n, to: pick(SupportLevel.allCases)))
        case 21:
            var number = rng.below(7)
            if let t = state.tickets[n], t.comments.count > 1, chance(0.7) { number = t.comments[1 + rng.below(t.comments.count - 1)].number }
            return Command(actor: staffFor(n, state), .splitComment(ticket: n, comment: number, subject: maybe(0.2, "Split-off question")))
        case 22:
            return Command(actor: staffActor(), .mergeTicket(duplicate: n, into: ticket(last)))
        case 23:
            return Command(actor: staffActor(), .markSpam(ticket: n))
        case 24:
            return Command(actor: staffFor(n, state), .logTime(ticket: n, minutes: pick([-1, 0, 30, 95, 2000]),
                                                         on: maybe(0.2, LocalDate(year: 2026, month: 3, day: 3)), note: maybe(0.5, "debugging")))
        case 25:
            return Command(actor: clientFor(n, state), .rateAnswer(ticket: n, comment: maybe(0.4, rng.below(6)), score: rng.below(7),
                                                             text: maybe(0.5, "Спасибо")))
        case 26:
            return Command(actor: chance(0.8) ? .system("escalation") : staffActor(), .escalate(ticket: n))
        case 27:
            return Command(actor: .system("mailer"), .recordDelivery(ticket: n, comment: 1 + rng.below(4), recipient: party(),
                                                                     status: pick(DeliveryStatus.allCases), detail: maybe(0.3, "250 OK")))
        case 28:
            var staff = pick(staffIds)
            if let t = state.tickets[n], !t.participants.isEmpty, chance(0.5) { staff = pick(t.participants.sorted()) }
            return Command(actor: staffFor(n, state), chance(0.6)
                ? .addParticipant(ticket: n, staff: staff, role: chance(0.5) ? .participant : .coExecutor)
                : .removeParticipant(ticket: n, staff: staff, role: chance(0.5) ? .participant : .coExecutor))
        case 29:
            return Command(actor: staffActor(), .reassign(ticket: n, to: pick(staffIds)))
        case 30:
            return Command(actor: staffActor(), .mergeContacts(duplicate: pick(contactIds), into: pick(contactIds)))
        case 31:
            return Command(actor: staffActor(), chance(0.5) ? .attachEmail(contact: pick(contactIds), email: email())
                : .attachPhone(contact: pick(contactIds), phone: phone()))
        case 32:
            return Command(actor: anyActor(), .changeContact(id: pick(contactIds), name: maybe(0.5, "Renamed"), language: maybe(0.3, "fr"),
                                                             organisation: maybe(0.3, pick(["o1", "o2", "", "nope"]))))
        case 33:
            return Command(actor: staffActor(), chance(0.5) ? .setPortalAccess(contact: pick(contactIds), granted: chance(0.5))
                : .addContactNote(contact: pick(contactIds), text: pick(texts)))
        case 34:
            return Command(actor: anyActor(), .changeStaff(id: pick(staffIds), name: maybe(0.3, "New Name"), email: nil,
                                                           role: maybe(0.2, pick(Role.allCases)), isDeveloper: nil,
                                                           signature: maybe(0.3, "— \(pick(["Support", ""]))"), active: maybe(0.3, chance(0.6))))
        case 35:
            let rule = maybe(0.8, EscalationRule(afterBusinessHours: pick([2, 0.5, 3.7, Double(1 + rng.below(1000)) / 7]),
                                                 manager: pick(["boss", "s1", "ghost", "aud"])))
            return Command(actor: staffActor(), .setEscalationRule(rule))
        case 36:
            return Command(actor: staffActor(), .buyPremiumQuota(organisation: pick(["o1", "o2", "nope"]), tickets: rng.below(4), note: nil))
        case 37:
            return Command(actor: staffActor(), .createContact(id: pick(["x1", "x2", "x3", "bad id"]), name: "Created", emails: [email()],
                                                               phones: chance(0.3) ? [phone()] : [], organisation: maybe(0.6, pick(["o1", "o2", "nope"])),
                                                               language: maybe(0.3, "ru")))
        case 38:
            return Command(actor: staffActor(), .changeOrganisation(id: pick(["o1", "o2", "nope"]), name: maybe(0.3, "Renamed Org"),
                                                                    tierId: maybe(0.3, pick(["special", "standard", "", "nope"])),
                                                                    domains: maybe(0.2, ["o1.example", "extra.example"])))
        default:
            // Odd but valid SLA targets: fractional hours must survive the JSON round trip exactly.
            let reaction = Double(1 + rng.below(1000)) / 7
            return Command(actor: staffActor(), .defineSLATier(SLATier(id: pick(["special", "standard", "odd"]), name: "Tier",
                                                                       calendarId: pick(["24x7", "office", "nope"]), reactionHours: reaction,
                                                                       resolutionHours: reaction * 3), isDefault: chance(0.3)))
        }
    }
}

@Suite struct PropertyTests {
    /// Random commands never crash the processor, every refusal is a `DomainError` that writes
    /// nothing, and the state rebuilt from the log equals the live state.
    @Test func randomCommandsReplayToLiveState() async throws {
        var outcomes: [String: (ok: Int, refused: Int)] = [:]
        var retried = 0
        for round in 0..<30 {
            let useLMDB = round % 6 == 5
            let dir = try TempDir()
            let store: any EventStore = useLMDB ? try lmdbStore(dir, durability: .unsafeNoSync) : MemoryEventStore()
            defer { store.close() }
            let clock = ManualClock(Fixture.start)
            let cacheLimit = round % 3 == 0 ? 16 : 20_000
            let p = try CommandProcessor(store: store, clock: clock, ticketCacheLimit: cacheLimit)
            try await Fixture.setUp(p)
            if cacheLimit == 16 {
                // More tickets than the cache holds, so that random commands evict and reload them.
                let opens = (0..<24).map { i in
                    Command(actor: .system("mail"), .openTicket(OpenTicket(channel: .email, subject: "Backlog \(i)", body: "",
                                                                           contact: .email(["c1@o1.example", "c2@o1.example", "c3@o2.example", "c4@free.example"][i % 4], name: nil))))
                }
                for r in await p.execute(batch: opens) { _ = try r.get() }
                _ = try await p.ticket(1)  // the cache is trimmed when tickets are looked up
                #expect(await p.snapshot().tickets.count < 24, "round \(round): the cache was trimmed")
            }
            let gen = RandomCommands(seed: 1_000 + UInt64(round))
            var done = 0
            while done < 60 {
                clock.advance(by: gen.chance(0.2) ? 0 : Double(gen.rng.below(3 * 3600)))
                let last = await p.lastTicketNumber
                let state = await p.snapshot()
                if gen.chance(0.1) {
                    // A batch: decided in order, committed together.
                    let batch = (0..<(2 + gen.rng.below(4))).map { _ in gen.command(last: last, now: clock.now(), state: state) }
                    let results = await p.execute(batch: batch)
                    #expect(results.count == batch.count)
                    for (c, r) in zip(batch, results) {
                        switch r {
                        case .success: outcomes[c.body.name, default: (0, 0)].ok += 1
                        case .failure(let e):
                            #expect(e is DomainError, "round \(round): \(c) failed with \(e)")
                            outcomes[c.body.name, default: (0, 0)].refused += 1
                        }
                    }
                    done += batch.count
                    continue
                }
                var c = gen.command(last: last, now: clock.now(), state: state)
                if gen.chance(0.2) { c.id = "r\(round)-\(done)" }
                let head = store.committedHead
                do {
                    let outcome = try await p.execute(c)
                    outcomes[c.body.name, default: (0, 0)].ok += 1
                    #expect(!outcome.sequences.isEmpty)
                    #expect(outcome.sequences == Array((head + 1)...store.committedHead), "round \(round): \(c.body.name)")
                    if c.id != nil, gen.chance(0.5) {
                        let after = store.committedHead
                        do {
                            let again = try await p.execute(c)
                            #expect(again == outcome, "round \(round): retry of \(c.body.name)")
                        } catch {
                            Issue.record("round \(round): the retry of \(c.body.name) failed: \(error)")
                        }
                        #expect(store.committedHead == after, "round \(round): the retry of \(c.body.name) wrote something")
                        retried += 1
                    }
                } catch let e as DomainError {
                    outcomes[c.body.name, default: (0, 0)].refused += 1
                    #expect(store.committedHead == head, "round \(round): refused \(c.body.name) (\(e)) wrote something")
                } catch {
                    Issue.record("round \(round): \(c) failed with a non-domain error \(error)")
                }
                done += 1
            }

            // The log, replayed, is the live state.
            let rebuilt = try replay(store)
            let live = await p.snapshot()
            #expect(live.account == rebuilt.account, "round \(round)")
            #expect(live.organisations == rebuilt.organisations, "round \(round)")
            #expect(live.contacts == rebuilt.contacts, "round \(round)")
            #expect(live.contactByEmail == rebuilt.contactByEmail, "round \(round)")
            #expect(live.contactByPhone == rebuilt.contactByPhone, "round \(round)")
            #expect(live.lastTicketNumber == rebuilt.lastTicketNumber, "round \(round)")
            #expect(rebuilt.tickets.count == rebuilt.lastTicketNumber, "round \(round): ticket numbers are gapless")
            for (n, t) in live.tickets {
                #expect(rebuilt.tickets[n] == t, "round \(round): ticket #\(n)")
            }
            if cacheLimit == 20_000 { #expect(live.tickets.count == rebuilt.tickets.count, "round \(round)") }
            // Tickets the cache dropped load from the log to the same state.
            for n in stride(from: 1, through: rebuilt.lastTicketNumber, by: 1) {
                let t = try await p.ticket(n)
                #expect(t == rebuilt.tickets[n], "round \(round): ticket #\(n) via ticket(_:)")
            }
            #expect(await p.escalations == expectedEscalations(rebuilt), "round \(round): escalation work list")

            // A new processor on the same log loads the same account, organisations, contacts and work list.
            let restarted = try CommandProcessor(store: store, clock: clock)
            #expect(await restarted.account == rebuilt.account, "round \(round)")
            #expect(await restarted.organisations == rebuilt.organisations, "round \(round)")
            #expect(await restarted.contacts == rebuilt.contacts, "round \(round)")
            #expect(await restarted.lastTicketNumber == rebuilt.lastTicketNumber, "round \(round)")
            #expect(await restarted.escalations == expectedEscalations(rebuilt), "round \(round)")
            let loaded = await restarted.snapshot()
            #expect(resolvedAddresses(loaded).emails == resolvedAddresses(rebuilt).emails, "round \(round)")
            #expect(resolvedAddresses(loaded).phones == resolvedAddresses(rebuilt).phones, "round \(round)")
        }
        // The sequences are not all refusals: the interesting commands succeed somewhere.
        let mustSucceed = ["openTicket", "acceptTicket", "comment", "changeStatus", "close", "splitComment", "mergeTicket",
                           "markSpam", "mergeContacts", "escalate", "rateAnswer", "classify"]
        for name in mustSucceed {
            #expect(outcomes[name, default: (0, 0)].ok > 0, "no successful \(name) in \(outcomes)")
        }
        let refused = outcomes.values.map(\.refused).reduce(0, +)
        let ok = outcomes.values.map(\.ok).reduce(0, +)
        #expect(refused > 100 && ok > 300, "ok \(ok), refused \(refused)")
        #expect(retried > 10)
    }
}
