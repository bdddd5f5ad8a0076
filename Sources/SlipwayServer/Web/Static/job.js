// The job page's live part: appends new log text and refreshes the job's state and history every second
// until the job is over. It reads the API with the session cookie (GETs need no CSRF header); everything
// it writes goes through textContent, never HTML.
(function () {
  "use strict";
  var log = document.getElementById("job-log");
  if (!log || log.dataset.final === "true") return;
  var id = log.dataset.job;
  var offset = Number(log.dataset.offset || "0");
  var status = document.getElementById("log-status");
  var finalStates = ["succeeded", "failed", "cancelled", "lost"];
  // After the job is over, a few more reads collect output an agent sends late (a cancelled job's last lines).
  var drainReads = 2;

  function get(path) {
    return fetch(path, { credentials: "same-origin", cache: "no-store", headers: { Accept: "*/*" } }).then(function (response) {
      if (!response.ok) {
        var error = new Error(path + " answered " + response.status);
        error.status = response.status;
        throw error;
      }
      return response;
    });
  }

  function text(id, value) {
    var element = document.getElementById(id);
    if (element) element.textContent = value;
  }

  // `2026-11-25 14:03:07`, as the server writes times (UTC).
  function time(iso) {
    if (!iso) return "—";
    var date = new Date(iso);
    return isNaN(date) ? iso : date.toISOString().slice(0, 19).replace("T", " ");
  }

  // `42 s`, `3 min 5 s`, `2 h 10 min`, as the server writes durations.
  function duration(from, to) {
    var whole = Math.max(0, Math.round((to - from) / 1000));
    if (whole < 60) return whole + " s";
    if (whole < 3600) return Math.floor(whole / 60) + " min" + (whole % 60 ? " " + (whole % 60) + " s" : "");
    var minutes = Math.floor((whole % 3600) / 60);
    return Math.floor(whole / 3600) + " h" + (minutes ? " " + minutes + " min" : "");
  }

  function badge(state) {
    var span = document.createElement("span");
    span.className = "state state-" + state;
    span.textContent = state;
    return span;
  }

  function pullLog() {
    return get("/api/v1/jobs/" + id + "/logs?offset=" + offset).then(function (response) {
      var next = response.headers.get("Slipway-Log-Offset");
      return response.text().then(function (chunk) {
        if (chunk) {
          var following = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
          log.appendChild(document.createTextNode(chunk));
          if (following) log.scrollTop = log.scrollHeight;
        }
        if (next !== null && next !== "") offset = Number(next);
      });
    });
  }

  function pullJob() {
    return get("/api/v1/jobs/" + id).then(function (response) {
      return response.json();
    }).then(function (detail) {
      var job = detail.job;
      var state = document.getElementById("job-state");
      if (state) {
        state.textContent = job.state;
        state.className = "state state-" + job.state;
      }
      text("job-reason", job.reason);
      text("job-node", job.node || "—");
      text("job-gpus", job.gpu_devices && job.gpu_devices.length ? job.gpu_devices.join(", ") : "—");
      text("job-attempts", job.attempts + " of " + job.max_attempts);
      text("job-exit-code", job.exit_code === null || job.exit_code === undefined ? "—" : String(job.exit_code));
      text("job-started", time(job.started_at));
      text("job-finished", time(job.finished_at));
      if (job.started_at) text("job-duration", duration(new Date(job.started_at), job.finished_at ? new Date(job.finished_at) : new Date()));
      var body = document.querySelector("#job-events tbody");
      if (body) {
        var rows = detail.events.map(function (event) {
          var row = document.createElement("tr");
          [time(event.at), badge(event.state), event.reason, event.node || ""].forEach(function (value) {
            var cell = document.createElement("td");
            if (typeof value === "string") cell.textContent = value;
            else cell.appendChild(value);
            row.appendChild(cell);
          });
          return row;
        });
        body.replaceChildren.apply(body, rows);
      }
      var over = finalStates.indexOf(job.state) >= 0;
      if (over) {
        var cancel = document.getElementById("cancel-job");
        if (cancel) cancel.remove();
      }
      return over;
    });
  }

  function tick() {
    pullJob()
      .then(function (over) {
        return pullLog().then(function () {
          return over;
        });
      })
      .then(function (over) {
        if (over && drainReads-- <= 0) {
          log.dataset.final = "true";
          if (status) status.textContent = "";
          return;
        }
        if (status) status.textContent = over ? "" : "following";
        setTimeout(tick, 1000);
      })
      .catch(function (error) {
        // Signed out, or the job is no longer visible: following stops; anything else is retried.
        if ([401, 403, 404].indexOf(error.status) >= 0) {
          if (status) status.textContent = "stopped following (reload the page)";
          return;
        }
        if (status) status.textContent = "reconnecting…";
        setTimeout(tick, 3000);
      });
  }

  setTimeout(tick, 1000);
})();
