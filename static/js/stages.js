// Drag and drop to reorder a value stream's stages. Dropping posts the new
// order (stage ids) to the list's data-reorder-url through htmx, which swaps
// the re-rendered stage editor in; the up/down buttons do the same without JS.
(function () {
  function bind(list) {
    if (list.dataset.dndBound) return;
    list.dataset.dndBound = "1";
    let dragged = null;
    list.addEventListener("dragstart", (e) => {
      dragged = e.target.closest("li.stage");
      if (!dragged) return;
      dragged.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.dataset.stageId);
    });
    list.addEventListener("dragover", (e) => {
      const over = e.target.closest("li.stage");
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      const box = over.getBoundingClientRect();
      const after = e.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("dragend", () => {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      const order = Array.from(list.querySelectorAll("li.stage")).map((li) => li.dataset.stageId);
      htmx.ajax("POST", list.dataset.reorderUrl, {
        target: "#stages",
        swap: "outerHTML",
        values: { order: order },
      });
    });
  }
  function bindAll(root) {
    root.querySelectorAll("ol.stages[data-reorder-url]").forEach(bind);
  }
  document.addEventListener("htmx:load", (e) => bindAll(e.detail.elt));
  document.addEventListener("DOMContentLoaded", () => bindAll(document));
})();
