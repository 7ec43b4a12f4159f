/// The pages' Mustache templates (swift-mustache; `{{x}}` is HTML-escaped, `{{{x}}}` is not and is
/// used only for HTML the server made itself). Kept in the binary: no files to install.
enum WebTemplates {
    static let all: [String: String] = [
        "layout": layout, "signin": signin, "chronicle": chronicle, "ticket": ticket, "portal": portal,
        "portalTicket": portalTicket, "message": message, "reports": reports, "audit": audit,
        "queues": queues, "contacts": contacts, "settings": settings,
    ]

    static let layout = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} · Help desk</title>
    <style>
    :root { --ink:#1d2330; --muted:#5f6b7a; --line:#dde2ea; --bg:#f6f7fa; --accent:#2457c5; --warn:#b3261e; --ok:#1e7a3c; --internal:#fff6d6; }
    * { box-sizing: border-box; }
    body { margin:0; font:16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
    header { display:flex; flex-wrap:wrap; gap:.5rem 1.25rem; align-items:center; padding:.6rem 1rem; background:#fff; border-bottom:1px solid var(--line); }
    header .brand { font-weight:700; }
    header nav { display:flex; flex-wrap:wrap; gap:.25rem 1rem; }
    header .who { margin-left:auto; color:var(--muted); }
    main { max-width:62rem; margin:0 auto; padding:1rem; }
    a { color:var(--accent); }
    a:focus, button:focus, input:focus, select:focus, textarea:focus { outline:3px solid #9db8f2; outline-offset:1px; }
    h1 { font-size:1.4rem; margin:.2rem 0 1rem; overflow-wrap:anywhere; }
    .card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:.8rem 1rem; margin:.6rem 0; overflow-wrap:anywhere; }
    .row { display:flex; flex-wrap:wrap; gap:.4rem .8rem; align-items:baseline; }
    .muted { color:var(--muted); font-size:.9rem; }
    .badge { display:inline-block; padding:0 .5rem; border-radius:1rem; font-size:.8rem; border:1px solid var(--line); background:#fff; white-space:nowrap; }
    .badge.unaccepted { background:#fde7e5; border-color:#f3b7b1; color:var(--warn); }
    .badge.overdue { background:var(--warn); color:#fff; border-color:var(--warn); }
    .badge.premium { background:#efe3ff; border-color:#cdb3f5; }
    .badge.unread { background:var(--accent); border-color:var(--accent); color:#fff; } .card.unread a strong { font-weight:800; }
    .status-closed { opacity:.75; } .marker-unanswered { border-left:4px solid var(--warn); } .marker-answered { border-left:4px solid var(--ok); }
    .marker-postponed { border-left:4px solid #c79a00; } .marker-closed { border-left:4px solid var(--line); }
    .comment.internal { background:var(--internal); border-style:dashed; }
    .comment pre, .text { white-space:pre-wrap; font:inherit; margin:.4rem 0 0; }
    form.inline { display:inline; }
    button, .button { font:inherit; padding:.35rem .8rem; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
    button.secondary { background:#fff; color:var(--accent); }
    input, select, textarea { font:inherit; padding:.35rem .5rem; border:1px solid var(--line); border-radius:6px; max-width:100%; }
    textarea { width:100%; min-height:7rem; }
    label { display:block; margin:.4rem 0 .15rem; }
    .filters { display:flex; flex-wrap:wrap; gap:.5rem; align-items:end; }
    .close h2 { font-size:1.1rem; margin:.2rem 0; } fieldset label { margin:.2rem 0; }
    fieldset { border:1px solid var(--line); border-radius:6px; margin:.5rem 0; } fieldset .day { display:grid; grid-template-columns:7rem minmax(0,16rem); gap:.5rem; align-items:center; }
    table { border-collapse:collapse; width:100%; overflow-wrap:normal; } th, td { text-align:left; padding:.25rem .5rem; border-bottom:1px solid var(--line); }
    th { white-space:nowrap; }
    figure { margin:1rem 0; overflow-x:auto; } figure svg { width:100%; max-width:56rem; height:auto; }
    .error { background:#fde7e5; border:1px solid #f3b7b1; padding:.6rem 1rem; border-radius:8px; }
    .notice { background:#e6f4ea; border:1px solid #b7dfc3; padding:.6rem 1rem; border-radius:8px; }
    @media (max-width: 40rem) { main { padding:.5rem; } header .who { margin-left:0; } }
    </style>
    </head>
    <body>
    <header>
      <span class="brand">Help desk</span>
      {{#signedIn}}
      <nav>
        {{#staff}}<a href="/ui/chronicle">Chronicle</a><a href="/ui/chronicle?unaccepted=true">Unaccepted</a><a href="/ui/chronicle?mine=true">Mine</a>{{/staff}}
        {{#staff}}<a href="/ui/queues">Queues</a><a href="/ui/contacts">Contacts</a>{{/staff}}
        {{#manager}}<a href="/ui/reports">Reports</a><a href="/ui/settings">Settings</a>{{/manager}}
        {{#client}}<a href="/ui/portal">My tickets</a>{{/client}}
      </nav>
      <span class="who">{{name}}</span>
      <form class="inline" method="post" action="/ui/signout"><input type="hidden" name="_csrf" value="{{csrf}}"><button class="secondary">Sign out</button></form>
      {{/signedIn}}
    </header>
    <main>
    {{{content}}}
    </main>
    </body>
    </html>
    """

    static let signin = """
    <h1>Sign in</h1>
    {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
    <form class="card" method="post" action="/ui/signin">
      <label for="token">Your access token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required size="48" autofocus>
      <p><button>Sign in</button></p>
      <p class="muted">Clients: open the invitation link you were sent; it signs you in.</p>
    </form>
    """

    static let message = """
    <h1>{{heading}}</h1>
    <p class="{{kind}}">{{text}}</p>
    {{#back}}<p><a href="{{back}}">Back</a></p>{{/back}}
    """

    static let chronicle = """
    <h1>Chronicle</h1>
    <form class="filters card" method="get" action="/ui/chronicle" aria-label="Filters">
      <label>Status <select name="status"><option value="">any</option>{{#statuses}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/statuses}}</select></label>
      <label>Type <select name="type"><option value="">any</option>{{#types}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/types}}</select></label>
      <label>Criticality <select name="criticality"><option value="">any</option>{{#criticalities}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/criticalities}}</select></label>
      <label>Level <select name="level"><option value="">any</option>{{#levels}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/levels}}</select></label>
      <label><input type="checkbox" name="mine" value="true" {{#mine}}checked{{/mine}}> mine</label>
      <label><input type="checkbox" name="unaccepted" value="true" {{#unaccepted}}checked{{/unaccepted}}> unaccepted</label>
      <label><input type="checkbox" name="premiumFirst" value="true" {{#premiumFirst}}checked{{/premiumFirst}}> premium first</label>
      <button>Show</button>
    </form>
    <div id="feed" data-live="/live">
    {{#items}}
    <div class="card marker-{{marker}} status-{{status}} {{#unread}}unread{{/unread}}">
      <div class="row">
        {{#unread}}<span class="badge unread" title="new activity since you last opened it">new</span>{{/unread}}
        <a href="/ui/tickets/{{number}}"><strong>#{{number}}</strong> {{subject}}</a>
        <span class="badge">{{status}}</span>
        {{#premium}}<span class="badge premium">premium</span>{{/premium}}
        {{#overdue}}<span class="badge overdue">overdue</span>{{/overdue}}
        {{#unaccepted}}<span class="badge unaccepted">Unaccepted</span>
          <form class="inline" method="post" action="/ui/tickets/{{number}}/accept"><input type="hidden" name="_csrf" value="{{csrf}}"><button>Accept</button></form>{{/unaccepted}}
      </div>
      <div class="muted">{{activityText}} · {{activityAt}}{{#responsible}} · responsible: {{responsible}}{{/responsible}} · L{{level}}</div>
    </div>
    {{/items}}
    {{^items}}<p class="muted">Nothing here yet.</p>{{/items}}
    </div>
    <p class="muted" id="live-note" aria-live="polite"></p>
    <script>
    (function () {
      if (!window.EventSource) return;
      var es = new EventSource('/live');
      var reload = function () { document.getElementById('live-note').textContent = 'New activity — refreshing…'; location.reload(); };
      // The page's own forms, and leaving the page, close the stream: a reload must not overtake a
      // form's redirect, and a page kept in the back/forward cache must not hold a connection.
      document.addEventListener('submit', function () { es.close(); reload = function () {}; });
      window.addEventListener('pagehide', function () { es.close(); });
      {{{liveTypes}}}.forEach(function (t) { es.addEventListener(t, reload); });
    })();
    </script>
    """

    static let ticket = """
    <h1>#{{number}} {{subject}}</h1>
    {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
    {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
    <div class="card">
      <div class="row">
        <span class="badge">{{status}}</span> <span class="badge">L{{level}}</span>
        {{#premium}}<span class="badge premium">premium</span>{{/premium}}
        {{#unaccepted}}<span class="badge unaccepted">Unaccepted</span>
          <form class="inline" method="post" action="/ui/tickets/{{number}}/accept"><input type="hidden" name="_csrf" value="{{csrf}}"><button>Accept</button></form>{{/unaccepted}}
      </div>
      <div class="muted" aria-live="polite">Also viewing now: <span id="viewers">{{viewers}}{{^viewers}}nobody else{{/viewers}}</span></div>
      <div class="muted">Client: {{contactName}}{{#organisationName}} · {{organisationName}}{{/organisationName}}{{#tierName}} · SLA {{tierName}}{{/tierName}}</div>
      <div class="muted">Responsible: {{responsible}}{{#reactionDue}} · reaction due {{reactionDue}}{{#reactionLeft}} (<strong>{{reactionLeft}}</strong>){{/reactionLeft}}{{/reactionDue}}{{#resolutionDue}} · resolution due {{resolutionDue}}{{#resolutionLeft}} (<strong>{{resolutionLeft}}</strong>){{/resolutionLeft}}{{/resolutionDue}}
        {{#breached}}<span class="badge overdue">SLA breached</span>{{/breached}}</div>
    </div>
    {{#comments}}
    <div class="card comment {{#internal}}internal{{/internal}}" id="c{{number}}">
      <div class="row"><strong>{{author}}</strong><span class="muted">{{at}}</span>
        {{#internal}}<span class="badge">internal</span>{{/internal}}{{^internal}}{{#fromClient}}<span class="badge">from client</span>{{/fromClient}}{{^fromClient}}<span class="badge">to client</span>{{/fromClient}}{{/internal}}</div>
      <div class="muted">Notified: {{notify}}</div>
      <pre>{{text}}</pre>
      {{#attachments}}<div><a href="/attachments/{{sha256}}?ticket={{ticket}}">{{filename}}</a> <span class="muted">({{size}} bytes)</span></div>{{/attachments}}
    </div>
    {{/comments}}
    {{#evaluations}}<div class="card"><strong>Answer evaluation by {{staff}}</strong>: kind {{kind}}, {{volume}}, {{links}} links and screenshots, help {{help}}</div>{{/evaluations}}
    {{#open}}
    <form class="card" method="post" action="/ui/tickets/{{number}}/comment" enctype="multipart/form-data">
      <input type="hidden" name="_csrf" value="{{csrf}}">
      <label for="text">Reply</label>
      <textarea id="text" name="text"></textarea>
      <label for="file">Attach files</label><input id="file" name="file" type="file" multiple>
      <fieldset><legend>Who receives it</legend>
        <label><input type="radio" name="internal" value="false" checked> To the client — {{defaultRecipients}}</label>
        <label><input type="radio" name="internal" value="true"> Internal — staff only</label>
      </fieldset>
      <p><button>Send</button></p>
    </form>
    <form class="card" method="post" action="/ui/tickets/{{number}}/status">
      <input type="hidden" name="_csrf" value="{{csrf}}">
      <label for="to">Status</label>
      <select id="to" name="to">{{#statusChoices}}<option value="{{.}}">{{.}}</option>{{/statusChoices}}</select> <span class="muted">now: {{status}}</span>
      <button class="secondary">Change</button>
    </form>
    <details class="card"><summary>More actions{{#classification}} — {{classification}}{{/classification}}</summary>
      <form class="filters" method="post" action="/ui/tickets/{{number}}/action"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Type <select name="type"><option value="">—</option>{{#types}}<option>{{.}}</option>{{/types}}</select></label>
        <label>Criticality <select name="criticality"><option value="">—</option>{{#criticalities}}<option>{{.}}</option>{{/criticalities}}</select></label>
        <label>Complexity <input name="complexity" type="number" min="1" max="5"></label>
        <label>Category <input name="category"></label>
        <label>Planned minutes <input name="plannedMinutes" type="number" min="0"></label>
        <label>Expected <input name="expectedDate" type="date"></label>
        <button class="secondary" name="action" value="classify">Classify</button></form>
      <form class="filters" method="post" action="/ui/tickets/{{number}}/action"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Support level <select name="level"><option value="1">L1</option><option value="2">L2</option><option value="3">L3</option></select></label>
        <button class="secondary" name="action" value="level">Change level</button></form>
      <form class="filters" method="post" action="/ui/tickets/{{number}}/action"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Add <select name="staff">{{#staffChoices}}<option value="{{id}}">{{name}}</option>{{/staffChoices}}</select></label>
        <label>as <select name="role"><option value="participant">participant</option><option value="co-executor">co-executor</option></select></label>
        <button class="secondary" name="action" value="participant">Add</button></form>
      <form class="filters" method="post" action="/ui/tickets/{{number}}/action"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Split comment no. <input name="comment" type="number" min="1" required></label><label>into a ticket titled <input name="subject"></label>
        <button class="secondary" name="action" value="split">Split</button></form>
      <form class="filters" method="post" action="/ui/tickets/{{number}}/action"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Merge this duplicate into # <input name="into" type="number" min="1" required></label>
        <button class="secondary" name="action" value="merge">Merge</button></form>
      <form class="filters" method="post" action="/ui/tickets/{{number}}/action"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Log minutes <input name="minutes" type="number" min="1" required></label><label>Note <input name="note"></label>
        <button class="secondary" name="action" value="time">Log time</button></form>
      <form class="filters" method="post" action="/ui/tickets/{{number}}/action"><input type="hidden" name="_csrf" value="{{csrf}}">
        <button class="secondary" name="action" value="spam">Mark as spam</button></form>
    </details>
    <form class="card close" method="post" action="/ui/tickets/{{number}}/close" aria-labelledby="close-heading">
      <input type="hidden" name="_csrf" value="{{csrf}}">
      <h2 id="close-heading">Close with the answer evaluation</h2>
      <p class="muted">Rate your own answer; the payroll formula in force turns it into pay (R22).</p>
      <fieldset><legend>What the answer took</legend>
        {{#answerKinds}}<label><input type="radio" name="kind" value="{{value}}" required{{#checked}} checked{{/checked}}> {{value}} — {{label}}</label>{{/answerKinds}}
      </fieldset>
      <fieldset><legend>Volume</legend>
        <label><input type="radio" name="volume" value="short" checked> short</label>
        <label><input type="radio" name="volume" value="long"> long, detailed</label>
      </fieldset>
      <div class="filters">
        <label>Links <input name="links" type="number" min="0" max="1000" value="0" inputmode="numeric"></label>
        <label>Screenshots <input name="screenshots" type="number" min="0" max="1000" value="0" inputmode="numeric"></label>
      </div>
      <fieldset><legend>Help from others</legend>
        <label><input type="radio" name="help" value="1" checked> answered alone</label>
        <label><input type="radio" name="help" value="2"> with some help</label>
        <label><input type="radio" name="help" value="3"> mostly by colleagues or developers</label>
      </fieldset>
      <p><button>Close the ticket</button></p>
    </form>
    {{/open}}
    {{^open}}<form class="card" method="post" action="/ui/tickets/{{number}}/status"><input type="hidden" name="_csrf" value="{{csrf}}">
      <p>#{{number}} is closed.</p><input type="hidden" name="to" value="reopened"><button class="secondary">Reopen</button></form>{{/open}}
    <script>
    (function () {
      if (!window.EventSource) return;
      var es = new EventSource('/live?ticket={{number}}');
      var reload = function () { location.reload(); };
      // The page's own forms, and leaving the page, close the stream: a reload must not overtake a
      // form's redirect, and a page kept in the back/forward cache must not hold a connection.
      document.addEventListener('submit', function () { es.close(); reload = function () {}; });
      window.addEventListener('pagehide', function () { es.close(); });
      {{{liveTypes}}}.forEach(function (t) { es.addEventListener(t, reload); });
      setInterval(function () {
        fetch('/ui/tickets/{{number}}/viewers', { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(function (names) {
          document.getElementById('viewers').textContent = names.length ? names.join(', ') : 'nobody else';
        }).catch(function () {});
      }, 10000);
    })();
    </script>
    """

    static let portal = """
    <h1>My tickets</h1>
    {{#tickets}}
    <div class="card marker-{{marker}}">
      <div class="row"><a href="/ui/portal/{{number}}"><strong>#{{number}}</strong> {{subject}}</a><span class="badge">{{marker}}</span></div>
      <div class="muted">opened {{openedAt}} · last change {{updatedAt}}</div>
    </div>
    {{/tickets}}
    {{^tickets}}<p class="muted">No tickets yet.</p>{{/tickets}}
    <form class="card" method="post" action="/ui/portal/new" enctype="multipart/form-data">
      <input type="hidden" name="_csrf" value="{{csrf}}">
      <strong>New ticket</strong>
      <label for="subject">Subject</label><input id="subject" name="subject" required style="width:100%">
      <label for="body">What happened?</label><textarea id="body" name="body" required></textarea>
      <label for="file">Attach files (screenshots, logs)</label><input id="file" name="file" type="file" multiple>
      <p><button>Send</button></p>
    </form>
    """

    static let portalTicket = """
    <h1>#{{number}} {{subject}}</h1>
    <p><span class="badge">{{marker}}</span></p>
    {{#comments}}
    <div class="card comment" id="c{{number}}">
      <div class="row"><strong>{{author}}</strong><span class="muted">{{at}}</span></div>
      <pre>{{text}}</pre>
      {{#attachments}}<div><a href="/attachments/{{sha256}}?ticket={{ticket}}">{{filename}}</a></div>{{/attachments}}
      {{#fromStaff}}
      <form class="inline" method="post" action="/ui/portal/{{ticket}}/rate">
        <input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="comment" value="{{number}}">
        <label class="muted">Rate this answer <select name="score"><option>5</option><option>4</option><option>3</option><option>2</option><option>1</option></select></label>
        <button class="secondary">Rate</button>
      </form>
      {{/fromStaff}}
    </div>
    {{/comments}}
    <form class="card" method="post" action="/ui/portal/{{number}}/reply" enctype="multipart/form-data">
      <input type="hidden" name="_csrf" value="{{csrf}}">
      <label for="text">Reply</label><textarea id="text" name="text"></textarea>
      {{#closed}}<p class="muted">This ticket is closed; a reply opens it again.</p>{{/closed}}
      <label for="file">Attach files</label><input id="file" name="file" type="file" multiple>
      <p><button>Send</button></p>
    </form>
    """
}
