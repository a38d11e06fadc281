# frozen_string_literal: true

# Stand-in for BigBlueButton's record-and-playback core library, which scalelite_post_publish.rb loads
# with `require File.expand_path('../../lib/recordandplayback', __dir__)` (on a node:
# /usr/local/bigbluebutton/core/lib/recordandplayback.rb, from bigbluebutton/bigbluebutton
# record-and-playback/core/lib/recordandplayback.rb, installed by the bbb-record-core package). That
# library defines the BigBlueButton module (logger, paths, helpers); the post_publish script of the
# pinned Scalelite uses nothing from it, so this stub only defines the module.
module BigBlueButton
end
