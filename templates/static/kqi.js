// Small enhancements only; every page works without this file.
document.addEventListener("click", function (ev) {
  // Close the user menu when clicking elsewhere.
  var menu = document.getElementById("user-menu");
  if (menu && menu.open && !menu.contains(ev.target)) {
    menu.open = false;
  }
});
