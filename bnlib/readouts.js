// The readouts under a live figure (bnlib/readouts.py): one polite live region that stays in the page.
//
// A screen reader announces the changes inside a live region that was already in the page; a region that is
// replaced on every update (as an HTML widget's new value replaces its content) is new each time and may never
// be read. So the region is made once, here, and only its children change. A plain ES module read by
// anywidget: no build step, nothing loaded from the web. Its style is ReadoutRegion._css.

function show(model, region) {
  const message = model.get("message");
  region.dataset.message = message ? "shown" : "";
  if (message) {
    region.replaceChildren(document.createTextNode(message));
    return;
  }
  // Each readout one unbreakable line; lines wrap between readouts, never inside one.
  const items = model.get("items").map(([name, value]) => {
    const item = document.createElement("span");
    const number = document.createElement("b");
    number.textContent = value;
    item.append(`${name}\u00a0 `, number);
    return item;
  });
  region.replaceChildren(...items);
}

function render({ model, el }) {
  const region = document.createElement("div");
  region.className = "bnlib-readouts";
  region.setAttribute("role", "status");
  region.setAttribute("aria-live", "polite");
  region.setAttribute("aria-atomic", "true");
  el.append(region);
  const update = () => show(model, region);
  model.on("change:items", update);
  model.on("change:message", update);
  update();
}

export default { render };
