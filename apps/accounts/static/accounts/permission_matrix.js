/* The role editor's permission matrix: filter rows, select per group / row / column, count the selection.
 * The checkboxes are plain form inputs; this script only ticks them, so the form posts without it too. */
(function () {
  "use strict";

  function init(root) {
    var search = root.querySelector("#perm-search");
    var onlySelected = root.querySelector("#perm-only-selected");
    var counter = root.querySelector("[data-perm-selected]");
    var empty = root.querySelector("#perm-no-match");
    var rows = Array.prototype.slice.call(root.querySelectorAll("[data-perm-row]"));
    var groups = Array.prototype.slice.call(root.querySelectorAll("[data-group]"));
    var controls = Array.prototype.slice.call(
      root.querySelectorAll("[data-select-column], [data-select-group], [data-select-row]")
    );
    // Each permission checkbox with the row, group and column it belongs to (looked up once).
    var boxes = Array.prototype.slice
      .call(root.querySelectorAll("input[data-perm-code], input[data-perm-extra]"))
      .map(function (input) {
        return {
          input: input,
          row: input.closest("[data-perm-row]"),
          group: input.closest("[data-group]"),
          method: input.getAttribute("data-method"),
        };
      });

    function scopeOf(control) {
      if (control.hasAttribute("data-select-column")) {
        return { kind: "column", key: control.getAttribute("data-select-column") };
      }
      if (control.hasAttribute("data-select-group")) {
        return { kind: "group", key: control.closest("[data-group]") };
      }
      return { kind: "row", key: control.closest("[data-perm-row]") };
    }

    function inScope(box, scope) {
      if (scope.kind === "row") return box.row === scope.key; // a row's own control ignores the filter
      if (box.row.hidden) return false; // group and column controls act on what is shown
      return scope.kind === "group" ? box.group === scope.key : box.method === scope.key;
    }

    function refresh() {
      var selected = 0;
      boxes.forEach(function (box) {
        if (box.input.checked) selected += 1;
      });
      if (counter) counter.textContent = String(selected);
      controls.forEach(function (control) {
        var scope = scopeOf(control);
        var total = 0;
        var ticked = 0;
        boxes.forEach(function (box) {
          if (!inScope(box, scope)) return;
          total += 1;
          if (box.input.checked) ticked += 1;
        });
        control.checked = total > 0 && ticked === total;
        control.indeterminate = ticked > 0 && ticked < total;
        if (scope.kind === "group") {
          var label = scope.key.querySelector("[data-group-count]");
          if (label) label.textContent = ticked + " / " + total;
        }
      });
    }

    function filter() {
      var terms = (search ? search.value : "").toLowerCase().split(/\s+/).filter(Boolean);
      var onlyTicked = onlySelected ? onlySelected.checked : false;
      rows.forEach(function (row) {
        var text = row.getAttribute("data-search") || "";
        var match = terms.every(function (term) {
          return text.indexOf(term) !== -1;
        });
        if (match && onlyTicked) match = row.querySelector("input[name]:checked") !== null;
        row.hidden = !match;
      });
      var anyShown = false;
      groups.forEach(function (group) {
        var shown = group.querySelector("[data-perm-row]:not([hidden])") !== null;
        group.hidden = !shown;
        anyShown = anyShown || shown;
      });
      if (empty) empty.hidden = anyShown || rows.length === 0;
      refresh();
    }

    root.addEventListener("change", function (event) {
      var target = event.target;
      if (target === onlySelected) {
        filter();
        return;
      }
      if (controls.indexOf(target) !== -1) {
        var scope = scopeOf(target);
        boxes.forEach(function (box) {
          if (inScope(box, scope) && !box.input.disabled) box.input.checked = target.checked;
        });
      }
      refresh();
    });

    if (search) {
      var timer = null;
      search.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(filter, 60);
      });
      // Enter in the filter box must not submit the role form.
      search.addEventListener("keydown", function (event) {
        if (event.key === "Enter") event.preventDefault();
      });
    }
    refresh();
  }

  function start() {
    document.querySelectorAll("[data-perm-matrix]").forEach(init);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
