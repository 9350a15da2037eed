/* report.js - draws the asyncsnap report from the JSON in #asyncsnap-data
 * (fields in docs/REPORT.md). Plain script, no library, nothing loaded.
 *
 * The data comes from snapshots, which are untrusted: every string of it
 * goes into the page as text (textContent, text nodes, attribute values
 * that are neither URLs nor handlers), never as markup.
 *
 * When it is done, <body data-status="ok">; on any script error,
 * data-status="error" and data-errors says what (the tests read both).
 */
(function () {
  'use strict';

  var errors = [];
  function failed(msg) {
    errors.push(String(msg));
    document.body.setAttribute('data-status', 'error');
    document.body.setAttribute('data-errors', errors.join(' | '));
  }
  window.addEventListener('error', function (e) { failed(e.message || e); });

  var started = performance.now();
  /* the SVG namespace, taken from the page's own <svg> rather than spelled out */
  var SVGNS = document.getElementById('svg-ns').namespaceURI;

  /* ---- helpers ---------------------------------------------------------- */

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function add(parent, child) { parent.appendChild(child); return child; }

  function txt(parent, text) { parent.appendChild(document.createTextNode(String(text))); }

  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    }
    return e;
  }

  function svgText(parent, x, y, text, cls, anchor) {
    var t = svg('text', { x: x, y: y });
    if (cls) t.setAttribute('class', cls);
    if (anchor) t.setAttribute('text-anchor', anchor);
    t.textContent = String(text);
    parent.appendChild(t);
    return t;
  }

  function svgTitle(parent, text) {
    var t = svg('title', {});
    t.textContent = String(text);
    parent.appendChild(t);
  }

  function num(x) { var n = Number(x); return isFinite(n) ? n : 0; }
  function str(x) { return x === undefined || x === null ? '' : String(x); }
  function arr(x) { return Array.isArray(x) ? x : []; }
  function obj(x) { return x && typeof x === 'object' && !Array.isArray(x) ? x : {}; }

  function fmtCount(n) {
    return String(Math.round(num(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  /* as `asyncsnap` prints sizes: 512 B, 4.53 KiB, 30.5 KiB, 114 KiB */
  function fmtBytes(n) {
    n = num(n);
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    if (i === 0) return Math.round(n) + ' B';
    return (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)) + ' ' + units[i];
  }

  function fmtTime(t) {
    t = num(t);
    if (!t) return '';
    var d = new Date(t * 1000);
    return isNaN(d.getTime()) ? '' : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function plural(n, one, many) { return fmtCount(n) + ' ' + (num(n) === 1 ? one : (many || one + 's')); }

  function shortType(t) { t = str(t); return t.indexOf('builtins.') === 0 ? t.slice(9) : t; }

  function isTaskType(t) { return /(^|\.)Task$/.test(str(t)); }

  /* "Task 'watch-3'", "coroutine Service.watch", "TimerHandle of cb", "list" */
  function describe(o) {
    o = obj(o);
    var t = shortType(o.type);
    if (o.name !== undefined && o.name !== null && isTaskType(o.type)) return t + " '" + str(o.name) + "'";
    if (o.callback !== undefined && o.callback !== null) return t + ' of ' + str(o.callback);
    if (o.qualname !== undefined && o.qualname !== null) return t + ' ' + str(o.qualname);
    if (o.name !== undefined && o.name !== null) return t + ' ' + str(o.name);
    return t;
  }

  function clip(s, max) { s = str(s); return s.length > max ? s.slice(0, Math.max(1, max - 1)) + '\u2026' : s; }

  /* the family of a type, for colours */
  function family(type) {
    var t = str(type);
    if (/(^|\.)(Task|Future)$/.test(t) || /Handle$/.test(t) || /EventLoop$/.test(t) ||
        /^builtins\.(coroutine|async_generator|generator)$/.test(t)) return 'aio';
    if (/^builtins\.(frame|traceback)$/.test(t)) return 'frame';
    if (/^builtins\.(dict|list|set|frozenset|tuple)$/.test(t) || t === 'collections.deque') return 'container';
    if (/^builtins\.(str|bytes|bytearray|int|float|complex|bool|memoryview)$/.test(t)) return 'data';
    if (t.indexOf('builtins.') === 0) return 'runtime';
    if (/^(_?asyncio|asyncio\.)/.test(t)) return 'aio';
    return 'app';
  }

  var FAMILIES = [
    ['aio', '#e8786c', 'asyncio: tasks, futures, coroutines, handles'],
    ['frame', '#e9bd55', 'frames and tracebacks'],
    ['container', '#86afdc', 'dict, list, set, tuple'],
    ['data', '#a3d391', 'str, bytes, numbers'],
    ['runtime', '#bfaede', 'functions, types, modules, other built-ins'],
    ['app', '#f3a868', 'instances of other classes'],
    ['others', '#dde1e5', 'the rest, summed up'],
  ];
  var COLOR = {};
  FAMILIES.forEach(function (f) { COLOR[f[0]] = f[1]; });

  function kv(parent, rows) {
    var dl = add(parent, el('dl', 'kv'));
    rows.forEach(function (r) {
      if (r[1] === undefined || r[1] === null || r[1] === '') return;
      add(dl, el('dt', null, r[0]));
      var dd = add(dl, el('dd'));
      if (r[1] instanceof Node) dd.appendChild(r[1]); else dd.textContent = String(r[1]);
    });
    return dl;
  }

  function table(parent, cls, heads) {
    var t = add(parent, el('table', cls));
    var tr = add(add(t, el('thead')), el('tr'));
    heads.forEach(function (h) {
      var th = add(tr, el('th', h[1] || null, h[0]));
      th.setAttribute('scope', 'col');
    });
    return add(t, el('tbody'));
  }

  function row(tbody, cells) {
    var tr = add(tbody, el('tr'));
    cells.forEach(function (c) {
      var td = add(tr, el('td', c[1] || null));
      if (c[0] instanceof Node) td.appendChild(c[0]); else td.textContent = str(c[0]);
      if (c[2]) td.title = c[2];
    });
    return tr;
  }

  /* ---- the data --------------------------------------------------------- */

  var data = obj(JSON.parse($('asyncsnap-data').textContent));
  var snaps = arr(data.snapshots);
  var last = obj(snaps[snaps.length - 1]);
  var leaks = obj(data.leaks);
  var findings = arr(leaks.findings);
  var tasks = obj(data.tasks);
  var cycles = obj(data.cycles);
  var checks = arr(data.checks);

  /* ---- overview --------------------------------------------------------- */

  function drawOverview() {
    var body = $('overview-body');
    var program = str(last.program);
    if (program) {
      $('program').textContent = program;
      document.title = 'asyncsnap report: ' + program;
    }
    if (leaks.warning) add(body, el('p', 'warning', 'warning: ' + str(leaks.warning)));

    var chips = add(body, el('div', 'chips'));
    var first = {};
    findings.forEach(function (f, i) {
      var c = str(obj(f).check);
      if (!(c in first)) first[c] = i;
    });
    checks.forEach(function (c) {
      var name = str(obj(c).name);
      var n = findings.filter(function (f) { return obj(f).check === name; }).length;
      var chip;
      if (n) {
        chip = add(chips, el('a', 'chip hit', name + ': ' + n));
        chip.href = '#finding-' + first[name];
      } else {
        chip = add(chips, el('span', 'chip clean', name + ': 0'));
      }
      chip.title = str(obj(c).fix);
    });

    var lines = [
      ['findings', findings.length ? plural(findings.length, 'finding') : 'none'],
      ['last snapshot', plural(last.objects, 'object') + ', ' + fmtBytes(last.bytes) +
        ', ' + plural(last.edges, 'reference')],
      ['tasks', plural(tasks.total, 'task') + ': ' + fmtCount(tasks.pending) + ' pending (' +
        fmtCount(tasks.orphaned) + ' orphaned), ' + fmtCount(tasks.done) + ' done'],
      ['reference cycles', plural(cycles.total, 'cycle') + ' through coroutines, frames or tracebacks'],
    ];
    if (snaps.length > 1) {
      lines.push(['snapshots', 'findings use all ' + snaps.length + ' snapshots (growth and what ' +
        'persists); memory, tasks and cycles are of the last one']);
    }
    kv(body, lines);

    var tb = table(body, 'snapshots', [['#', 'num'], ['file'], ['seq', 'num'], ['taken'], ['pid', 'num'],
      ['Python'], ['objects', 'num'], ['bytes', 'num'], ['RSS', 'num']]);
    snaps.forEach(function (s, i) {
      s = obj(s);
      row(tb, [[i + 1, 'num'], [s.path, 'mono'], [s.seq, 'num'], [fmtTime(s.time)],
        [s.pid === undefined ? '' : s.pid, 'num'], [s.python], [fmtCount(s.objects), 'num'],
        [fmtBytes(s.bytes), 'num'], [s.rss === undefined ? '' : fmtBytes(s.rss), 'num']]);
    });
  }

  /* ---- a chain of references -------------------------------------------- */

  function chainList(parent, path) {
    var ol = add(parent, el('ol', 'chain'));
    path.forEach(function (p, i) {
      p = obj(p);
      var li = add(ol, el('li'));
      if (i === 0 && p.root) add(li, el('span', 'root', 'root: ' + str(p.root) + ' '));
      if (i > 0) add(li, el('span', 'label', p.label === null || p.label === undefined
        ? '\u2192 ' : '-[' + str(p.label) + ']\u2192 '));
      txt(li, describe(p));
      add(li, el('span', 'addr muted', ' ' + str(p.addr)));
      if (p.site) add(li, el('span', 'site', '  at ' + str(p.site)));
    });
    return ol;
  }

  function chainLine(nodes, labels, closed) {
    var s = '';
    nodes.forEach(function (n, i) {
      s += describe(n);
      if (i + 1 < nodes.length || closed) {
        var l = labels[i];
        s += l === null || l === undefined ? ' \u2192 ' : ' -[' + str(l) + ']\u2192 ';
      }
    });
    if (closed && nodes.length) s += describe(nodes[0]);
    return s;
  }

  /* ---- a cycle, drawn --------------------------------------------------- */

  var BW = 196, BH = 40;

  function boxBorder(c, p) {
    var dx = p[0] - c[0], dy = p[1] - c[1];
    if (!dx && !dy) return c;
    var t = Math.min(dx ? (BW / 2 + 3) / Math.abs(dx) : Infinity, dy ? (BH / 2 + 3) / Math.abs(dy) : Infinity);
    return [c[0] + dx * t, c[1] + dy * t];
  }

  function arrowHead(g, tip, from) {
    var dx = tip[0] - from[0], dy = tip[1] - from[1];
    var len = Math.sqrt(dx * dx + dy * dy) || 1;
    dx /= len; dy /= len;
    var s = 8, w = 4;
    var bx = tip[0] - dx * s, by = tip[1] - dy * s;
    g.appendChild(svg('polygon', {
      'class': 'arrow',
      points: [tip[0], tip[1], bx - dy * w, by + dx * w, bx + dy * w, by - dx * w].map(function (v) {
        return v.toFixed(1);
      }).join(' '),
    }));
  }

  function edgeLabel(g, x, y, label) {
    if (label === null || label === undefined) return;
    svgText(g, x.toFixed(1), y.toFixed(1), clip(label, 30), 'edgelabel', 'middle');
  }

  /* nodes[i] refers to nodes[i + 1] by labels[i]; the last back to the first
   * (by a dashed edge when `more` objects of the cycle are not drawn) */
  function cycleGraph(parent, nodes, labels, more) {
    var n = nodes.length;
    if (!n) return;
    var pos = [], i;
    if (n === 1) {
      pos.push([0, 0]);
    } else {
      /* on an ellipse, adjacent boxes apart by a box width and a margin */
      var rx = n === 2 ? BW / 2 + 80 : (BW + 34) / (2 * Math.sin(Math.PI / n));
      var ry = n === 2 ? 0 : Math.max(75, rx * 0.6);
      for (i = 0; i < n; i++) {
        var a = n === 2 ? (i ? 0 : Math.PI) : -Math.PI / 2 + 2 * Math.PI * i / n;
        pos.push([rx * Math.cos(a), ry * Math.sin(a)]);
      }
    }
    /* the boxes' extent, with room for the bent edges, the loop and labels */
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    pos.forEach(function (p) {
      x0 = Math.min(x0, p[0] - BW / 2); x1 = Math.max(x1, p[0] + BW / 2);
      y0 = Math.min(y0, p[1] - BH / 2); y1 = Math.max(y1, p[1] + BH / 2);
    });
    var margin = n === 1 ? 90 : n === 2 ? 60 : 40;
    x0 -= 40; x1 += 40; y0 -= margin; y1 += n === 1 ? 10 : margin;
    var W = x1 - x0, H = y1 - y0;
    var CX = 0, CY = 0;  /* the centre of the ring */
    var s = add(parent, svg('svg', {
      'class': 'cyclegraph',
      viewBox: x0.toFixed(0) + ' ' + y0.toFixed(0) + ' ' + W.toFixed(0) + ' ' + H.toFixed(0),
      width: W.toFixed(0), height: H.toFixed(0), role: 'img',
    }));
    svgTitle(s, chainLine(nodes, labels, !more));
    var edges = add(s, svg('g', {}));
    if (n === 1) {
      var c = pos[0], top = c[1] - BH / 2;
      var p0 = [c[0] + 34, top - 2], p1 = [c[0] - 34, top - 2];
      var k0 = [c[0] + 95, top - 85], k1 = [c[0] - 95, top - 85];
      edges.appendChild(svg('path', {
        'class': 'edge',
        d: 'M' + p0.join(',') + ' C' + k0.join(',') + ' ' + k1.join(',') + ' ' + p1.join(','),
      }));
      arrowHead(edges, p1, k1);
      edgeLabel(edges, c[0], top - 66, labels[0]);
    } else {
      for (var e = 0; e < n; e++) {
        var A = pos[e], B = pos[(e + 1) % n];
        var mx = (A[0] + B[0]) / 2, my = (A[1] + B[1]) / 2;
        var dx = B[0] - A[0], dy = B[1] - A[1];
        var len = Math.sqrt(dx * dx + dy * dy) || 1;
        var px = -dy / len, py = dx / len;
        if (n > 2 && (mx + px - CX) * (mx + px - CX) + (my + py - CY) * (my + py - CY) <
            (mx - CX) * (mx - CX) + (my - CY) * (my - CY)) {
          px = -px; py = -py;  /* bend outwards */
        }
        var bend = n === 2 ? 48 : Math.max(18, len * 0.16);
        var ctrl = [mx + px * bend, my + py * bend];
        var from = boxBorder(A, ctrl), to = boxBorder(B, ctrl);
        var path = svg('path', {
          'class': 'edge',
          d: 'M' + from[0].toFixed(1) + ',' + from[1].toFixed(1) + ' Q' + ctrl[0].toFixed(1) + ',' +
            ctrl[1].toFixed(1) + ' ' + to[0].toFixed(1) + ',' + to[1].toFixed(1),
        });
        var closing = more && e === n - 1;
        if (closing) path.setAttribute('stroke-dasharray', '5 4');
        edges.appendChild(path);
        arrowHead(edges, to, ctrl);
        var lx = 0.25 * from[0] + 0.5 * ctrl[0] + 0.25 * to[0];
        var ly = 0.25 * from[1] + 0.5 * ctrl[1] + 0.25 * to[1] + 4;
        edgeLabel(edges, lx, ly, closing ? '\u2026 ' + fmtCount(more) + ' more' : labels[e]);
      }
    }
    nodes.forEach(function (o, i) {
      o = obj(o);
      var g = add(s, svg('g', { 'class': 'node ' + family(o.type) }));
      var x = pos[i][0] - BW / 2, y = pos[i][1] - BH / 2;
      g.appendChild(svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: BW, height: BH, rx: 5 }));
      svgText(g, (x + 8).toFixed(1), (y + 16).toFixed(1), clip(describe(o), 30));
      svgText(g, (x + 8).toFixed(1), (y + 32).toFixed(1),
        clip(str(o.addr) + '  ' + fmtBytes(o.size), 33), 'sub');
      svgTitle(g, describe(o) + '\n' + str(o.type) + ' ' + str(o.addr) + '\nsize ' + fmtBytes(o.size) +
        (o.retained !== undefined ? ', retains ' + fmtBytes(o.retained) : '') +
        (o.site ? '\nat ' + str(o.site) : ''));
    });
  }

  /* ---- findings --------------------------------------------------------- */

  function sparkline(parent, counts) {
    var max = Math.max.apply(null, counts.map(num).concat([1]));
    var bw = 9, h = 18;
    var s = add(parent, svg('svg', {
      'class': 'growth', width: counts.length * (bw + 3), height: h, role: 'img',
    }));
    svgTitle(s, 'per snapshot: ' + counts.map(fmtCount).join(' \u2192 '));
    counts.forEach(function (c, i) {
      var bh = Math.max(1, Math.round(num(c) / max * h));
      s.appendChild(svg('rect', { x: i * (bw + 3), y: h - bh, width: bw, height: bh }));
    });
  }

  function drawFinding(body, f, i) {
    f = obj(f);
    var art = add(body, el('article', 'finding'));
    art.id = 'finding-' + i;
    var h = add(art, el('h3'));
    add(h, el('span', 'badge', str(f.check)));
    txt(h, str(f.summary));

    var count = el('span');
    txt(count, plural(f.count, 'object'));
    var notes = [];
    if (num(f.certain)) notes.push(fmtCount(f.certain) + ' certain from the last snapshot alone');
    var kept = arr(f.growth).length > 2 ? 'alive since the second snapshot' : 'in both snapshots';
    if (num(f.persistent)) notes.push(fmtCount(f.persistent) + ' ' + kept);
    if (notes.length) txt(count, ' (' + notes.join('; ') + ')');
    var growth = arr(f.growth);
    var per = null;
    if (growth.length > 1) {
      per = el('span');
      txt(per, growth.map(fmtCount).join(' \u2192 '));
      sparkline(per, growth);
    }
    kv(art, [
      ['what', str(f.group)],
      ['where', f.site ? str(f.site) : ''],
      ['objects', count],
      ['retained', fmtBytes(f.retained) + ' (what freeing them would free)'],
      ['per snapshot', per],
    ]);

    var path = arr(f.path);
    if (path.length) {
      if (f.path_is_cycle) {
        add(art, el('p', null, 'The cycle (through the worst of them):'));
        var labels = path.map(function (p, k) { return obj(path[(k + 1) % path.length]).label; });
        cycleGraph(art, path, labels, 0);
        add(art, el('p', 'mono muted', chainLine(path, labels, true)));
      } else {
        add(art, el('p', null, 'What keeps the worst of them alive, from a root:'));
        chainList(art, path);
      }
    }

    var objs = arr(f.objects);
    if (objs.length) {
      var det = add(art, el('details'));
      var shown = objs.length < num(f.count)
        ? 'the ' + fmtCount(objs.length) + ' worst of the ' + plural(f.count, 'object') + ' (by retained size)'
        : 'the ' + plural(objs.length, 'object') + ', worst first';
      add(det, el('summary', null, shown));
      var tb = table(det, 'objects', [['address'], ['object'], ['state'], ['where'], ['retained', 'num']]);
      objs.forEach(function (o) {
        o = obj(o);
        var flags = [];
        if (o.garbage) flags.push('garbage');
        if (o.persistent) flags.push(kept);
        row(tb, [[o.addr, 'mono'], [describe(o) + (flags.length ? ' (' + flags.join(', ') + ')' : '')],
          [o.state], [o.site, 'site'], [fmtBytes(o.retained), 'num']]);
      });
    }
    var also = arr(f.also);
    if (also.length) {
      add(art, el('p', null, 'Also, because of this (folded into this finding):'));
      var ul = add(art, el('ul', 'also'));
      also.forEach(function (a) {
        a = obj(a);
        var li = add(ul, el('li'));
        add(li, el('span', 'badge', str(a.check)));
        txt(li, str(a.summary) + ' (' + plural(a.count, 'object') + ')');
      });
    }
    if (f.in_user_code === false) {
      add(art, el('p', 'muted', 'In library code: none of its objects, sites or chain is the program\'s own.'));
    }
    var fix = add(art, el('p', 'fix'));
    add(fix, el('b', null, 'fix: '));
    txt(fix, str(f.fix));
  }

  function drawFindings() {
    var body = $('findings-body');
    var nav = $('nav-findings');
    nav.textContent = String(findings.length);
    if (findings.length) nav.classList.add('bad');
    if (!findings.length) {
      add(body, el('p', 'none', 'No findings: none of the ' + checks.length + ' checks fired on ' +
        (snaps.length === 1 ? 'this snapshot.' : 'these ' + snaps.length + ' snapshots.')));
      if (snaps.length === 1) {
        add(body, el('p', 'muted', 'With one snapshot only what it proves is reported; give two or more ' +
          'snapshots of the program, oldest first, to see what persists and grows.'));
      }
      return;
    }
    findings.forEach(function (f, i) { drawFinding(body, f, i); });
  }

  /* ---- the dominator tree, as a zoomable icicle --------------------------- */

  function drawMemory() {
    var body = $('memory-body');
    var t = obj(data.tree);
    var parents = arr(t.parent);
    if (!parents.length) {
      add(body, el('p', 'muted', 'No objects.'));
      return;
    }
    var types = arr(t.types), total = num(t.bytes) || 1;
    var nodes = parents.map(function (p, i) {
      var ti = num(arr(t.type)[i]);
      return {
        i: i, parent: i ? num(p) : -1, retained: num(arr(t.retained)[i]), size: num(arr(t.size)[i]),
        under: num(arr(t.objects_under)[i]), type: ti >= 0 ? str(types[ti]) : null,
        name: arr(t.name)[i], addr: arr(t.addr)[i], label: arr(t.label)[i], root: arr(t.root)[i],
        garbage: num(arr(t.garbage)[i]) === 1, others: num(arr(t.others)[i]), children: [],
      };
    });
    nodes.forEach(function (nd) {
      if (nd.i && nodes[nd.parent] && nd.parent < nd.i) nodes[nd.parent].children.push(nd);
    });
    nodes.forEach(function (nd) {
      nd.children.sort(function (a, b) {
        return (a.others > 0) - (b.others > 0) || b.retained - a.retained;
      });
    });
    var top = nodes[0];
    var real = nodes.length - nodes.filter(function (nd) { return nd.others > 0; }).length - 1;

    function nameOf(nd) {
      if (nd === top) return 'all objects';
      if (nd.others > 0) return fmtCount(nd.under) + ' more objects (' + plural(nd.others, 'child', 'children') + ')';
      return str(nd.name);
    }
    function colorOf(nd) {
      if (nd === top) return '#c9d1d9';
      if (nd.others > 0) return COLOR.others;
      return COLOR[family(nd.type)];
    }

    add(body, el('p', 'muted', 'The page carries the ' + fmtCount(real) + ' largest retainers of the ' +
      plural(t.objects, 'object') + ' (' + fmtBytes(t.bytes) + ') whose dominators are carried too; ' +
      'the rest of each one\'s children is one grey box.'));
    var legend = add(body, el('div', 'legend'));
    FAMILIES.forEach(function (f) {
      var item = add(legend, el('span'));
      var sw = add(item, el('span', 'sw'));
      sw.style.background = f[1];
      txt(item, f[2]);
    });
    var wrap = add(body, el('div'));
    wrap.id = 'icicle-wrap';
    var crumbs = add(wrap, el('div', 'crumbs'));
    var holder = add(wrap, el('div'));
    var info = add(body, el('div', 'nodeinfo'));

    var ROWH = 22, MAXROWS = 16;
    var zoom = top, selected = top;

    function showInfo(nd) {
      info.textContent = '';
      var pct = (nd.retained / total * 100);
      var rows = [['object', nameOf(nd)]];
      if (nd.type) rows.push(['type', nd.type]);
      if (nd.addr) rows.push(['address', str(nd.addr)]);
      rows.push(['retains', fmtBytes(nd.retained) + ' (' + (pct < 0.1 ? pct.toFixed(3) : pct.toFixed(1)) +
        '% of all bytes)']);
      if (nd !== top && !nd.others) rows.push(['own size', fmtBytes(nd.size)]);
      if (nd !== top) rows.push(['objects dominated', fmtCount(nd.others ? nd.under : nd.under - 1)]);
      else rows.push(['objects', fmtCount(nd.under)]);
      if (nd.parent > 0 && !nd.others) {
        var p = nodes[nd.parent];
        rows.push(['dominated by', nd.label !== null && nd.label !== undefined
          ? nameOf(p) + ', which refers to it as ' + str(nd.label)
          : nameOf(p) + ' (every chain from a root to it passes through it)']);
      } else if (nd.parent === 0 && !nd.others) {
        rows.push(['root', nd.root ? str(nd.root) : 'no single root: reached from several roots']);
      }
      if (nd.garbage) rows.push(['garbage', 'unreachable: awaiting the cycle collector']);
      kv(info, rows);
    }

    function zoomTo(nd) {
      while (nd !== top && !nd.children.length) nd = nodes[nd.parent];
      zoom = nd;
      draw();
    }

    function draw() {
      var W = Math.max(320, Math.floor(holder.clientWidth || 1000));
      crumbs.textContent = '';
      var chain = [];
      for (var c = zoom; c; c = c.parent >= 0 ? nodes[c.parent] : null) chain.unshift(c);
      chain.forEach(function (c, k) {
        if (k) txt(crumbs, ' \u203a ');
        var b = add(crumbs, el('button', null, clip(nameOf(c), 48)));
        b.type = 'button';
        b.title = nameOf(c) + ', retains ' + fmtBytes(c.retained);
        b.addEventListener('click', function () { selected = c; zoomTo(c); showInfo(c); });
      });

      var boxes = [], depth = 0;
      var stack = [[zoom, 0, W, 0]];
      while (stack.length) {
        var it = stack.pop(), nd = it[0], x = it[1], w = it[2], d = it[3];
        boxes.push(it);
        if (d > depth) depth = d;
        if (d + 1 >= MAXROWS || !nd.retained) continue;
        /* children too thin to see, and those the page does not carry, make
         * one grey box at the end (the children come largest first) */
        var scale = w / nd.retained, cx = x;
        var rest = { i: -1, parent: nd.i, retained: 0, under: 0, others: 0, children: [], size: 0 };
        for (var k = 0; k < nd.children.length; k++) {
          var ch = nd.children[k], cw = ch.retained * scale;
          if (ch.others > 0 || cw < 1) {
            rest.retained += ch.retained;
            rest.under += ch.under;
            rest.others += ch.others > 0 ? ch.others : 1;
            continue;
          }
          stack.push([ch, cx, cw, d + 1]);
          cx += cw;
        }
        if (rest.retained * scale >= 0.6) stack.push([rest, cx, rest.retained * scale, d + 1]);
      }
      var H = (depth + 1) * ROWH;
      var s = svg('svg', { 'class': 'icicle', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img' });
      svgTitle(s, 'what retains memory, under ' + nameOf(zoom));
      boxes.forEach(function (b) {
        var nd = b[0];
        var g = add(s, svg('g', {}));
        var r = add(g, svg('rect', {
          x: b[1].toFixed(2), y: b[3] * ROWH, width: Math.max(0.5, b[2] - 0.5).toFixed(2), height: ROWH - 1,
          fill: colorOf(nd),
        }));
        if (nd === selected) r.setAttribute('class', 'sel');
        svgTitle(g, nameOf(nd) + '\nretains ' + fmtBytes(nd.retained) +
          (nd.label !== null && nd.label !== undefined ? '\nreferred to as ' + str(nd.label) : '') +
          (nd.addr ? '\n' + str(nd.addr) : ''));
        var chars = Math.floor((b[2] - 8) / 6.6);
        if (chars >= 4) {
          var label = nameOf(nd) + '  ' + fmtBytes(nd.retained);
          svgText(g, (b[1] + 4).toFixed(1), b[3] * ROWH + 15, clip(label, chars));
        }
        g.addEventListener('click', function () {
          selected = nd;
          if (nd === zoom && nd !== top) zoomTo(nodes[nd.parent]); else zoomTo(nd);
          showInfo(nd);
        });
        g.addEventListener('mouseenter', function () { showInfo(nd); });
        g.addEventListener('mouseleave', function () { showInfo(selected); });
      });
      holder.textContent = '';
      holder.appendChild(s);
    }

    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && zoom !== top) {
        selected = zoom;
        zoomTo(nodes[zoom.parent]);
        showInfo(selected);
      }
    });
    var pending = 0;
    window.addEventListener('resize', function () {
      clearTimeout(pending);
      pending = setTimeout(draw, 120);
    });
    draw();
    showInfo(top);

    /* the same, as a list */
    var det = add(body, el('details'));
    add(det, el('summary', null, 'the largest retainers, as a list'));
    var tb = table(det, 'retainers', [['retained', 'num'], ['own', 'num'], ['object'], ['address'],
      ['dominated by']]);
    nodes.filter(function (nd) { return nd !== top && !nd.others; })
      .sort(function (a, b) { return b.retained - a.retained; })
      .slice(0, 40)
      .forEach(function (nd) {
        var p = nodes[nd.parent];
        var tr = row(tb, [[fmtBytes(nd.retained), 'num'], [fmtBytes(nd.size), 'num'], [nameOf(nd)],
          [nd.addr, 'mono'], [p === top ? 'root: ' + (nd.root ? str(nd.root) : 'several') :
            nameOf(p) + (nd.label !== null && nd.label !== undefined ? ' .' + str(nd.label) : '')]]);
        tr.addEventListener('click', function () { selected = nd; zoomTo(nd); showInfo(nd); });
      });
  }

  /* ---- tasks ------------------------------------------------------------ */

  function drawTasks() {
    var body = $('tasks-body');
    var list = arr(tasks.tasks);
    $('nav-tasks').textContent = fmtCount(tasks.total);
    if (!num(tasks.total)) {
      add(body, el('p', 'muted', 'No asyncio tasks in the last snapshot.'));
      return;
    }
    add(body, el('p', null, plural(tasks.total, 'task') + ' in the last snapshot: ' +
      fmtCount(tasks.pending) + ' pending (' + fmtCount(tasks.orphaned) +
      ' orphaned: waiting on a future nothing live can resolve), ' + fmtCount(tasks.done) + ' done.' +
      (list.length < num(tasks.total) ? ' The ' + fmtCount(list.length) + ' most suspicious are listed.' : '')));
    var bar = add(body, el('div', 'toolbar'));
    var filter = add(bar, el('input'));
    filter.type = 'search';
    filter.placeholder = 'filter: name, coroutine, verdict, file...';
    filter.setAttribute('aria-label', 'filter the tasks');
    var shownCount = add(bar, el('span', 'muted'));

    var heads = [['verdict', 'score'], ['task', 'name'], ['coroutine', 'coro'], ['suspended at', 'where'],
      ['await chain', null], ['referenced by', null], ['retained', 'retained']];
    var t = add(add(body, el('div', 'scroll')), el('table', 'tasks'));
    var tr = add(add(t, el('thead')), el('tr'));
    var tbody = add(t, el('tbody'));
    var rows = list.map(function (x, i) {
      x = obj(x);
      var leaf = obj(x.suspended_in);
      var chain = arr(x.await_chain).map(function (c) {
        c = obj(c);
        return describe(c) + (c.state && !/coroutine|generator/.test(str(c.type)) ? ' (' + str(c.state) + ')' : '');
      }).join(' \u2192 ');
      var refs = arr(x.referrers).slice(0, 3).map(function (r) {
        r = obj(r);
        var s = describe(r) + (r.label !== null && r.label !== undefined ? ' .' + str(r.label) : '');
        var hb = r.held_by ? obj(r.held_by) : null;
        if (hb) s += ' (in ' + describe(hb) + '.' + str(hb.label) + ')';
        return s;
      });
      var more = arr(x.referrers).length - refs.length + num(x.more_referrers);
      /* the innermost coroutine, when it is not the task's own, and where */
      var where = (leaf.qualname !== undefined && leaf.qualname !== x.qualname ? str(leaf.qualname) +
        (leaf.site ? ' at ' : '') : '') + str(leaf.site);
      var tr = el('tr');
      var cells = [
        [str(x.verdict), 'verdict ' + (/^[a-z]+$/.test(str(x.verdict)) ? str(x.verdict) : '')],
        [x.name !== undefined && x.name !== null ? str(x.name) : describe(x), 'name', str(x.addr)],
        [str(x.qualname)], [where, 'site'], [chain, 'await'],
        [refs.join('; ') + (more > 0 ? '; ' + fmtCount(more) + ' more' : '')],
        [fmtBytes(x.retained), 'num'],
      ];
      cells.forEach(function (c) {
        var td = add(tr, el('td', c[1], c[0]));
        if (c[2]) td.title = c[2];
      });
      return {
        tr: tr, order: i, name: str(x.name), coro: str(x.qualname), where: where,
        retained: num(x.retained), text: cells.map(function (c) { return c[0]; }).join(' ').toLowerCase(),
      };
    });
    var sortKey = null, desc = false;
    function apply() {
      var q = filter.value.trim().toLowerCase();
      var sorted = rows.slice();
      if (sortKey) {
        sorted.sort(function (a, b) {
          var r = sortKey === 'retained' ? a.retained - b.retained
            : a[sortKey] < b[sortKey] ? -1 : a[sortKey] > b[sortKey] ? 1 : 0;
          return (desc ? -r : r) || a.order - b.order;
        });
      }
      tbody.textContent = '';
      var n = 0;
      sorted.forEach(function (r) {
        if (q && r.text.indexOf(q) < 0) return;
        tbody.appendChild(r.tr);
        n++;
      });
      shownCount.textContent = fmtCount(n) + ' of ' + fmtCount(rows.length) + ' shown';
    }
    heads.forEach(function (h) {
      var th = add(tr, el('th', h[1] ? 'sortable' : null, h[0]));
      th.setAttribute('scope', 'col');
      if (h[0] === 'retained') th.className += ' num';
      if (!h[1]) return;
      th.title = h[1] === 'score' ? 'sort: most suspicious first' : 'sort by ' + h[0];
      th.addEventListener('click', function () {
        var key = h[1] === 'score' ? null : h[1];
        desc = key === sortKey ? !desc : key === 'retained';
        sortKey = key;
        apply();
      });
    });
    filter.addEventListener('input', apply);
    apply();
  }

  /* ---- cycles ----------------------------------------------------------- */

  function drawCycles() {
    var body = $('cycles-body');
    var list = arr(cycles.cycles);
    $('nav-cycles').textContent = fmtCount(cycles.total);
    if (!list.length) {
      add(body, el('p', 'none', 'No reference cycles through coroutines, generators, frames or tracebacks.'));
      return;
    }
    add(body, el('p', null, plural(cycles.total, 'cycle') + ' of ' + plural(cycles.shapes, 'shape') +
      ' (the types and labels along them), the largest first' +
      (list.length < num(cycles.shapes) ? '; the ' + fmtCount(list.length) + ' largest shapes are drawn.' : '.')));
    if (num(cycles.unexamined)) {
      add(body, el('p', 'muted', 'The search spent its budget: ' + plural(cycles.unexamined, 'object') +
        ' of large components were not examined.'));
    }
    list.forEach(function (c, i) {
      c = obj(c);
      var nodes = arr(c.nodes), labels = arr(c.labels);
      var more = Math.max(0, num(c.len) - nodes.length);
      var count = num(c.count) || 1;
      var box = add(body, el('div', 'cycle' + (c.garbage ? ' garbage' : '')));
      /* as `asyncsnap cycles` says it */
      var head = 'cycle ' + (i + 1) + ': ';
      if (c.whole && count === 1) {
        head += plural(c.size, 'object') + ', ' + fmtBytes(c.retained) + ' retained (' + fmtBytes(c.bytes) +
          ' shallow)';
      } else if (c.whole) {
        head += plural(count, 'cycle') + ' of this shape, in ' + plural(c.components, 'component') + ' of ' +
          plural(c.size, 'object') + ' in all, ' + fmtBytes(c.retained) + ' retained (' + fmtBytes(c.bytes) +
          ' shallow)';
      } else {
        head += plural(count, 'cycle') + ' of this shape, in a component of ' + plural(c.size, 'object') +
          '; ' + fmtBytes(c.retained) + ' retained by their objects';
      }
      add(box, el('h3', null, head));
      if (c.garbage) add(box, el('p', 'muted', 'unreachable: garbage awaiting the cycle collector'));
      if (count > 1) add(box, el('p', 'muted', 'The one drawn retains the most of them:'));
      cycleGraph(box, nodes, labels, more);
      add(box, el('p', 'mono muted', chainLine(nodes, labels, !more) + (more ? ' \u2026 ' +
        fmtCount(more) + ' more' : '')));
    });
  }

  /* ---- all of it -------------------------------------------------------- */

  var parts = [drawOverview, drawFindings, drawMemory, drawTasks, drawCycles];
  parts.forEach(function (draw) {
    try {
      draw();
    } catch (e) {
      /* one broken section must not hide the others */
      failed((draw.name || 'draw') + ': ' + (e && e.message ? e.message : e));
      console.error(e);
    }
  });
  var ms = performance.now() - started;
  $('footer').textContent = 'Made by ' + str(data.generator || 'asyncsnap') + ' from ' +
    plural(snaps.length, 'snapshot') + '; drawn in ' + ms.toFixed(0) + ' ms. The data is the JSON in ' +
    'the script element "asyncsnap-data" of this page (docs/REPORT.md).';
  document.body.setAttribute('data-render-ms', ms.toFixed(1));
  /* since the navigation started: reading, parsing and drawing the page */
  document.body.setAttribute('data-load-ms', performance.now().toFixed(1));
  document.body.setAttribute('data-findings', String(findings.length));
  if (!errors.length) document.body.setAttribute('data-status', 'ok');
})();
