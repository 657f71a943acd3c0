// The door's camera, where the browser reads QR codes itself
// (BarcodeDetector): the code read fills the form and sends it. Without
// it, the page works as it is: type the code, or use a handheld scanner
// (it types too). No third-party code.
(function () {
  "use strict";
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var button = document.getElementById("scan"), video = document.getElementById("camera");
  var form = document.getElementById("checkin-form"), code = document.getElementById("code");
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var look = function () {
        detector.detect(video).then(function (found) {
          if (found.length > 0) {
            stream.getTracks().forEach(function (t) { t.stop(); });
            code.value = found[0].rawValue;
            form.submit();
            return;
          }
          window.requestAnimationFrame(look);
        }, function () { window.requestAnimationFrame(look); });
      };
      look();
    }, function () { button.hidden = true; });
  });
})();
