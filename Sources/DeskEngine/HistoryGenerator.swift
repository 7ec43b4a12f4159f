import BusinessTime
import Foundation
import SupportDesk

/// A deterministic, realistic synthetic history, produced by running real commands through the
/// processor (for demos, tests and benchmarks): an account with staff, calendars, SLA tiers, an
/// escalation rule and two payroll formula versions; organisations with premium quotas and contacts;
/// tickets through their whole life — opened on every channel, accepted (some only after escalation),
/// answered, discussed internally, classified, moved between levels, replied to, split, merged, marked
/// as spam, time logged, closed with an evaluation, rated.
///
/// The same seed and ticket count give the same commands in the same order, with the same times.
public struct HistoryGenerator: Sendable {
    public struct Options: Sendable {
        public var tickets: Int
        public var seed: UInt64
        /// Monday 2 March 2026, 09:00 Moscow time.
        public var start = Date(timeIntervalSince1970: 1_772_431_200)
        public var ticketsPerDay = 60
        public var batchSize = 512

        public init(tickets: Int, seed: UInt64 = 1) {
            self.tickets = tickets
            self.seed = seed
        }
    }

    public struct Summary: Sendable, Hashable, Codable {
        public var commands = 0
        public var refused = 0
        public var ticketsOpened = 0
        public var escalations = 0
        public var firstRefusals: [String] = []
    }

    public let options: Options
    public init(_ options: Options) { self.options = options }

    /// Creates only the account, staff, calendars, tiers, formulas, organisations and contacts.
    public func setUp(on processor: CommandProcessor) async throws {
        var rng = SplitMix64(seed: options.seed)
        for c in setupCommands(&rng, at: options.start) { _ = try await processor.execute(c) }
    }

    /// Runs the whole history. Requires a log without an account.
    public func run(on processor: CommandProcessor, progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> Summary {
        var rng = SplitMix64(seed: options.seed)
        var summary = Summary()
        let t0 = options.start
        let setup = setupCommands(&rng, at: t0)
        for c in setup {
            _ = try await processor.execute(c)
            summary.commands += 1
        }
        let staff = Self.staff
        let orgs = organisationCount
        var script = ticketScripts(&rng, staff: staff, orgs: orgs)
        script.sort { ($0.at, $0.order) < ($1.at, $1.order) }
        // Ticket numbers are given in order of opening; the script refers to tickets by their index
        // in that order, so map each to the number it will get.
        let firstNumber = await processor.lastTicketNumber + 1
        var batch: [Command] = []
        var done = 0
        func flush() async {
            guard !batch.isEmpty else { return }
            let results = await processor.execute(batch: batch)
            for (c, r) in zip(batch, results) {
                summary.commands += 1
                if case .failure(let e) = r {
                    summary.refused += 1
                    if summary.firstRefusals.count < 10 { summary.firstRefusals.append("\(c.body.name): \(e)") }
                } else if case .openTicket = c.body { summary.ticketsOpened += 1 }
            }
            done += batch.count
            progress?(done, script.count)
            batch.removeAll(keepingCapacity: true)
        }
        for step in script {
            // Escalations due before this step happen first, at their due time.
            while let (n, due) = await processor.nextEscalation(), due <= step.at {
                await flush()
                guard let (n2, due2) = await processor.nextEscalation(), n2 == n, due2 == due else { continue }
                do {
                    _ = try await processor.execute(Command(actor: .system("escalation"), at: due, .escalate(ticket: n)))
                    summary.escalations += 1
                } catch {
                    await processor.dropEscalation(n)
                }
                summary.commands += 1
            }
            batch.append(step.command(firstNumber))
            if batch.count >= options.batchSize { await flush() }
        }
        await flush()
        return summary
    }

    // MARK: The cast

    static let staff: [(id: StaffId, name: String, role: Role, developer: Bool)] = [
        ("olga", "Ольга Смирнова", .manager, false),
        ("pavel", "Павел Иванов", .staff, false),
        ("anna", "Анна Кузнецова", .staff, false),
        ("dmitry", "Дмитрий Попов", .staff, false),
        ("elena", "Елена Васильева", .staff, false),
        ("sergey", "Сергей Соколов", .manager, false),
        ("ivan", "Иван Михайлов", .staff, true),
        ("maria", "Мария Новикова", .staff, true),
        ("auditor", "Audit Robot", .auditor, false),
    ]
    static let agents = ["pavel", "anna", "dmitry", "elena", "olga"]
    static let developers = ["ivan", "maria"]
    static let tiers: [(id: String, name: String, calendar: String, reaction: Double, resolution: Double)] = [
        ("non-commercial", "Non-commercial", "moscow", 24, 120),
        ("standard", "Clients: standard", "moscow", 6, 40),
        ("fast", "Clients: fast", "moscow", 4, 24),
        ("vip", "Clients: VIP", "moscow", 2, 16),
        ("partner", "Partners", "moscow", 5, 32),
        ("special", "Special requests", "24x7", 1, 8),
    ]

    var organisationCount: Int { max(3, min(2_000, options.tickets / 40)) }

    func setupCommands(_ rng: inout SplitMix64, at t0: Date) -> [Command] {
        var out: [Command] = []
        let admin = Party.staff("admin")
        func add(_ body: CommandBody, by: Party = admin) { out.append(Command(actor: by, at: t0, body)) }
        out.append(Command(actor: .system("generator"), at: t0,
                           .createAccount(name: "Demo Support", timeZone: "Europe/Moscow", defaultLanguage: "ru",
                                          admin: "admin", adminName: "Администратор", adminEmail: "admin@demo-desk.example")))
        for s in Self.staff {
            add(.addStaff(id: s.id, name: s.name, email: "\(s.id)@demo-desk.example", role: s.role, isDeveloper: s.developer))
        }
        add(.changeStaff(id: "anna", name: nil, email: nil, role: nil, isDeveloper: nil,
                         signature: "Анна Кузнецова\nDemo Support · +7 495 000-00-00", active: nil))
        add(.setBrain(members: ["olga", "sergey"]))
        var moscow = BusinessCalendar.weekdays(id: "moscow", name: "Moscow office 10–19", timeZone: "Europe/Moscow", from: 600, to: 1140)
        moscow.holidays = [LocalDate(year: 2026, month: 3, day: 9), LocalDate(year: 2026, month: 5, day: 1),
                           LocalDate(year: 2026, month: 5, day: 11), LocalDate(year: 2026, month: 6, day: 12)]
        add(.defineCalendar(moscow))
        add(.defineCalendar(.twentyFourSeven()))
        for t in Self.tiers {
            add(.defineSLATier(SLATier(id: t.id, name: t.name, calendarId: t.calendar, reactionHours: t.reaction,
                                       resolutionHours: t.resolution), isDefault: t.id == "standard"))
        }
        add(.setEscalationRule(EscalationRule(afterBusinessHours: 2, manager: "olga")))
        add(.setVisibility(VisibilitySettings(onlyNotified: true, organisationSharing: true)))
        add(.publishFormula(effectiveFrom: LocalDate(year: 2026, month: 1, day: 1), source: Self.formulaV1, note: "first version"))
        add(.publishFormula(effectiveFrom: LocalDate(year: 2026, month: 4, day: 1), source: Self.formulaV2, note: "links pay more"))
        for o in 0..<organisationCount {
            let tier = Self.tiers[rng.below(Self.tiers.count)].id
            add(.createOrganisation(id: "org\(o)", name: "Организация \(o)", tierId: tier, domains: ["org\(o).example"]))
            if rng.chance(0.3) { add(.buyPremiumQuota(organisation: "org\(o)", tickets: 2 + rng.below(10), note: "invoice \(1000 + o)")) }
            for c in 0..<3 {
                add(.createContact(id: "c\(o)-\(c)", name: "Клиент \(o)-\(c)", emails: ["user\(c)@org\(o).example"],
                                   phones: c == 0 ? ["+7 900 \(100_0000 + o * 10 + c)"] : [], organisation: "org\(o)",
                                   language: rng.chance(0.8) ? "ru" : "en"), by: .staff("pavel"))
            }
            if rng.chance(0.2) { add(.setPortalAccess(contact: "c\(o)-0", granted: true), by: .staff("pavel")) }
        }
        return out
    }

    public static let formulaV1 = """
    # Payroll formula, first version
    rate.hourly.default = 900
    rate.hourly["maria"] = 1200
    base = choose(kind, 60, 90, 150, 250, 400)
    volume_factor = if(volume == "long", 1.4, 1.0)
    extras = links * 10 + screenshots * 15
    help_factor = choose(help, 1.0, 0.7, 0.4)
    amount = round((base * volume_factor + extras) * help_factor, 2)
    """

    public static let formulaV2 = """
    # Payroll formula: links pay more from April
    rate.hourly.default = 950
    rate.hourly["maria"] = 1250
    base = choose(kind, 60, 100, 160, 260, 420)
    volume_factor = if(volume == "long", 1.5, 1.0)
    extras = links * 20 + screenshots * 15
    help_factor = choose(help, 1.0, 0.7, 0.4)
    amount = round((base * volume_factor + extras) * help_factor, 2)
    """

    // MARK: Ticket lives

    struct Step {
        var at: Date
        var order: Int
        /// The command, given the number of the first ticket the script opens.
        var make: @Sendable (TicketNumber) -> Command
        func command(_ first: TicketNumber) -> Command { make(first) }
    }

    func ticketScripts(_ rng: inout SplitMix64, staff: [(id: StaffId, name: String, role: Role, developer: Bool)], orgs: Int) -> [Step] {
        var steps: [Step] = []
        var order = 0
        let spacing = 86_400.0 / Double(max(1, options.ticketsPerDay))
        // Opening times grow with the index, so ticket i gets number first + i. Splits, which also take
        // a number, are done after the last opening (numbers first + tickets + k).
        var splits: [(parent: Int, comment: CommentNumber, by: StaffId)] = []
        var lastOpen = options.start
        var lastStep = options.start
        var spamOrMerged = Set<Int>()
        let channels: [Channel] = [.email, .email, .email, .email, .email, .email, .portal, .portal, .webForm, .phone, .api]
        let subjects = ["Не работает импорт", "Вопрос по тарифу", "Ошибка 500 при сохранении", "Как настроить уведомления",
                        "Медленно открывается отчёт", "Invoice question", "Login fails after update", "Просьба изменить реквизиты",
                        "Feature request: export to CSV", "Пропали данные в карточке"]
        for i in 0..<options.tickets {
            func add(_ at: Date, _ make: @escaping @Sendable (TicketNumber) -> Command) {
                order += 1
                steps.append(Step(at: at, order: order, make: { first in make(first + i) }))
                lastStep = max(lastStep, at)
            }
            let at = options.start.addingTimeInterval(3600 + Double(i) * spacing + Double(rng.below(Int(spacing))))
            lastOpen = at
            let o = rng.below(orgs), c = rng.below(3)
            let contact = "c\(o)-\(c)"
            let drawn = channels[rng.below(channels.count)]
            let channel = drawn == .phone && c != 0 ? Channel.email : drawn  // only each organisation's first contact has a phone
            let subject = subjects[rng.below(subjects.count)]
            let premium = rng.chance(0.15)
            let byContact = channel == .portal
            add(at) { _ in
                let open = OpenTicket(channel: channel, subject: subject, body: "Здравствуйте! \(subject). Заявка \(i).",
                                      contact: byContact ? nil : channel == .phone ? .phone("+7 900 \(100_0000 + o * 10 + c)", name: nil)
                                          : .email("user\(c)@org\(o).example", name: nil),
                                      language: nil, premium: premium, externalId: channel == .email ? "<m\(i)@org\(o).example>" : nil)
                return Command(actor: byContact ? .contact(contact) : channel == .phone ? .staff("pavel") : .system("mail"), at: at, .openTicket(open))
            }
            let agent = Self.agents[rng.below(Self.agents.count)]
            if rng.chance(0.03) {
                spamOrMerged.insert(i)
                let t = at.addingTimeInterval(300)
                add(t) { n in Command(actor: .staff(agent), at: t, .markSpam(ticket: n)) }
                continue
            }
            // Reaction: mostly quick, sometimes slow enough for the escalation rule.
            let reaction = rng.chance(0.1) ? Double(3 * 3600 + rng.below(6 * 3600)) : Double(120 + rng.below(5400))
            var t = at.addingTimeInterval(reaction)
            let acceptAt = t
            add(acceptAt) { n in Command(actor: .staff(agent), at: acceptAt, .acceptTicket(ticket: n)) }
            var comments = 1
            if rng.chance(0.3) {
                t += Double(60 + rng.below(1800))
                let tt = t
                comments += 1
                add(tt) { n in Command(actor: .staff(agent), at: tt, .comment(ticket: n, text: "Коллеги, кто знает этого клиента?",
                                                                              internal: true, notify: nil, attachments: [], channel: nil, externalId: nil)) }
            }
            if rng.chance(0.6) {
                t += Double(60 + rng.below(600))
                let tt = t
                let type = TicketType.allCases[rng.below(3)], crit = Criticality.allCases[rng.below(4)], complexity = 1 + rng.below(5)
                add(tt) { n in Command(actor: .staff(agent), at: tt, .classify(ticket: n, Classification(
                    type: type, firstLine: .technical, direction: "product", directionType: "import",
                    complexity: complexity, criticality: crit, category: "general", plannedMinutes: 30))) }
            }
            if rng.chance(0.2) {
                t += 300
                let tt = t
                add(tt) { n in Command(actor: .staff(agent), at: tt, .changeLevel(ticket: n, to: .l2)) }
            }
            if rng.chance(0.2) {
                let dev = Self.developers[rng.below(2)]
                t += 600
                let tt = t
                add(tt) { n in Command(actor: .staff(agent), at: tt, .addParticipant(ticket: n, staff: dev, role: .coExecutor)) }
                let minutes = 15 + rng.below(240)
                let t2 = tt.addingTimeInterval(Double(minutes * 60))
                add(t2) { n in Command(actor: .staff(dev), at: t2, .logTime(ticket: n, minutes: minutes, on: nil, note: "investigation")) }
                t = t2
            }
            t += Double(300 + rng.below(7200))
            let answerAt = t
            comments += 1
            add(answerAt) { n in Command(actor: .staff(agent), at: answerAt, .comment(
                ticket: n, text: "Добрый день! Проверили: всё исправлено. Подробнее: https://docs.example/\(n)",
                internal: false, notify: nil, attachments: [], channel: nil, externalId: nil)) }
            if rng.chance(0.5) {
                t += Double(1800 + rng.below(86_400))
                let tt = t
                comments += 1
                add(tt) { n in Command(actor: .contact(contact), at: tt, .comment(ticket: n, text: "Спасибо! А ещё вопрос: как выгрузить отчёт?",
                                                                                   internal: false, notify: nil, attachments: [], channel: .email, externalId: nil)) }
                if rng.chance(0.15) { splits.append((i, comments, agent)) }
                t += Double(600 + rng.below(7200))
                let t2 = t
                comments += 1
                add(t2) { n in Command(actor: .staff(agent), at: t2, .comment(ticket: n, text: "Выгрузка — в меню «Отчёты».",
                                                                              internal: false, notify: nil, attachments: [], channel: nil, externalId: nil)) }
            }
            if i > 0, !spamOrMerged.contains(i - 1), rng.chance(0.03) {
                spamOrMerged.insert(i)
                t += 300
                let tt = t
                add(tt) { n in Command(actor: .staff(agent), at: tt, .mergeTicket(duplicate: n, into: n - 1)) }
                splits.removeAll { $0.parent == i }
                continue
            }
            // Most tickets get closed with an evaluation; the newest stay open.
            guard Double(i) < Double(options.tickets) * 0.9 else { continue }
            t += Double(600 + rng.below(3600))
            let tt = t
            let kind = 1 + rng.below(5), volume: AnswerVolume = rng.chance(0.3) ? .long : .short, help = 1 + rng.below(3)
            let links = rng.below(3), shots = rng.below(3)
            add(tt) { n in Command(actor: .staff(agent), at: tt, .changeStatus(ticket: n, to: .resolved, reason: nil, until: nil)) }
            let t2 = tt.addingTimeInterval(Double(60 + rng.below(600)))
            add(t2) { n in Command(actor: .staff(agent), at: t2, .close(ticket: n, evaluation: AnswerEvaluation(
                kind: kind, volume: volume, links: links, screenshots: shots, help: help), reason: nil)) }
            if rng.chance(0.4) {
                let t3 = t2.addingTimeInterval(Double(600 + rng.below(86_400)))
                let score = 1 + rng.below(5)
                add(t3) { n in Command(actor: .contact(contact), at: t3, .rateAnswer(ticket: n, comment: nil, score: score,
                                                                                      text: score >= 4 ? "Спасибо, быстро!" : "Долго ждали")) }
            }
        }
        // Splits: after every opening, an agent splits the client's second question into its own ticket.
        var t = max(lastOpen, lastStep).addingTimeInterval(600)
        for s in splits {
            t += 60
            let tt = t
            order += 1
            steps.append(Step(at: tt, order: order, make: { first in
                Command(actor: .staff(s.by), at: tt, .splitComment(ticket: first + s.parent, comment: s.comment, subject: nil))
            }))
        }
        return steps
    }
}

/// A small deterministic generator (SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}
