// The page of an unknown screen id: checks every 5 s whether the screen exists now (a
// TV bookmark of a screen being re-created) and loads it when it does.
const id = document.body.dataset.screen;
setInterval(async () => {
  try {
    const res = await fetch(`/screens/${encodeURIComponent(id)}/source`, { cache: "no-store" });
    if (res.ok) location.reload();
  } catch {
    // the module is restarting
  }
}, 5000);
